// Plain JavaScript on the built dist/ (npm run jest builds first): jest loads global setup outside its
// ESM module registry, where our TypeScript sources cannot be imported.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installInfra } from '../../dist/lab/infra/paths.js';
import { killLeftovers } from '../../dist/lab/process.js';
import { startControlPlane } from '../../dist/lab/kube/control-plane.js';
import { installCrds } from '../../dist/lab/kube/crds.js';
import { loadKubeConfig } from '../../dist/src/activities/kube/clients.js';
import { startKeycloak } from '../../dist/lab/keycloak.js';
import { startTemporalDevServer } from '../../dist/lab/temporal.js';
import { startVictoriaMetrics } from '../../dist/lab/victoria-metrics.js';
import { bundleWorkflows } from '../../dist/src/workflow-bundle.js';
import { TEST_ENV } from './env.js';

/**
 * Starts one of each real server for the whole run (control plane with KWOK, Temporal dev server,
 * VictoriaMetrics, Keycloak) and bundles the workflows once. Keycloak takes about a minute to start: it is
 * launched first and not awaited, so the other tests run meanwhile; Keycloak tests wait for it
 * (test/helpers/keycloak.ts). Test files get their own namespaces, nodes, task queues and metric labels;
 * each makes its own time-skipping server, because that server's clock is shared by everything connected to it.
 */
export default async function globalSetup() {
  removeDeadRuns();
  const dir = join(tmpdir(), `${RUN_PREFIX}${process.pid}`);
  const infra = await installInfra();
  mkdirSync(dir, { recursive: true });
  const keycloak = await startKeycloak(join(dir, 'keycloak'), infra);
  keycloak.ready.catch(() => undefined); // reported by the tests that wait for it, with its log
  const [controlPlane, temporal, victoriaMetrics, bundle] = await Promise.all([
    startControlPlane(join(dir, 'kube'), infra),
    startTemporalDevServer(join(dir, 'temporal'), infra, { headless: true }),
    startVictoriaMetrics(join(dir, 'victoria-metrics'), infra),
    bundleWorkflows(),
  ]);
  await installCrds(loadKubeConfig(controlPlane.kubeconfig), infra.crds);
  const bundlePath = join(dir, 'workflow-bundle.js');
  writeFileSync(bundlePath, bundle.code);
  Object.assign(process.env, {
    [TEST_ENV.kubeconfig]: controlPlane.kubeconfig,
    [TEST_ENV.temporalAddress]: temporal.address,
    [TEST_ENV.testServer]: infra.temporalTestServer,
    [TEST_ENV.temporalCli]: infra.temporal,
    [TEST_ENV.kubeBin]: infra.kubeBin,
    [TEST_ENV.crds]: infra.crds,
    [TEST_ENV.bundle]: bundlePath,
    [TEST_ENV.victoriaMetrics]: victoriaMetrics.url,
    [TEST_ENV.keycloakUrl]: keycloak.url,
    [TEST_ENV.keycloakAdmin]: `${keycloak.admin.username}:${keycloak.admin.password}`,
    [TEST_ENV.keycloakLog]: keycloak.logFile,
  });
  globalThis.clusterOpsStop = async () => {
    await Promise.all([temporal.stop(), controlPlane.stop(), victoriaMetrics.stop(), keycloak.stop()]);
    rmSync(dir, { recursive: true, force: true });
  };
}

const RUN_PREFIX = 'cluster-ops-test-';

/** Runs whose jest process died (SIGKILL) leave servers behind: stop them, whoever else is testing now. */
function removeDeadRuns() {
  for (const entry of readdirSync(tmpdir())) {
    if (!entry.startsWith(RUN_PREFIX)) continue;
    const pid = Number(entry.slice(RUN_PREFIX.length));
    if (isAlive(pid)) continue;
    const dir = join(tmpdir(), entry);
    for (const server of ['kube', 'temporal', 'victoria-metrics', 'keycloak']) killLeftovers(join(dir, server));
    rmSync(dir, { recursive: true, force: true });
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
