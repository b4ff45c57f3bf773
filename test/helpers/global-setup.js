// Plain JavaScript on the built dist/ (npm run jest builds first): jest loads global setup outside its
// ESM module registry, where our TypeScript sources cannot be imported.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installInfra } from '../../dist/lab/infra/paths.js';
import { killLeftovers } from '../../dist/lab/process.js';
import { startControlPlane } from '../../dist/lab/kube/control-plane.js';
import { startFluxControllers } from '../../dist/lab/flux.js';
import { startExternalSecrets } from '../../dist/lab/external-secrets.js';
import { startGitHttpServer } from '../../dist/lab/git-server.js';
import { installCrds } from '../../dist/lab/kube/crds.js';
import { kubeClients, loadKubeConfig } from '../../dist/src/activities/kube/clients.js';
import { startKeycloak } from '../../dist/lab/keycloak.js';
import { startTemporalDevServer } from '../../dist/lab/temporal.js';
import { startVictoriaMetrics } from '../../dist/lab/victoria-metrics.js';
import { startJaeger } from '../../dist/lab/jaeger.js';
import { bundleWorkflows } from '../../dist/src/workflow-bundle.js';
import { TEST_ENV, TEST_LEASE_NAMESPACE } from './env.js';

/**
 * Starts one of each real server for the whole run (control plane with KWOK, Flux's source- and
 * kustomize-controller with a git http server for their repositories, the External Secrets controller, Temporal dev server,
 * VictoriaMetrics, Jaeger, Keycloak) and bundles the workflows once. Keycloak takes about a minute to start: it is
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
  const [controlPlane, temporal, victoriaMetrics, jaeger, bundle] = await Promise.all([
    startControlPlane(join(dir, 'kube'), infra),
    startTemporalDevServer(join(dir, 'temporal'), infra, { headless: true }),
    startVictoriaMetrics(join(dir, 'victoria-metrics'), infra),
    startJaeger(join(dir, 'jaeger'), infra),
    bundleWorkflows(),
  ]);
  const kubeConfig = loadKubeConfig(controlPlane.kubeconfig);
  await installCrds(kubeConfig, infra.crds);
  await kubeClients(kubeConfig).core.createNamespace({ body: { metadata: { name: TEST_LEASE_NAMESPACE } } });
  const gitRoot = join(dir, 'git');
  mkdirSync(gitRoot);
  const [git, flux, externalSecrets] = await Promise.all([
    startGitHttpServer(gitRoot),
    // One pair serves every test file's namespace, as on a large cluster: 16 reconciles at once, so a few
    // Kustomizations waiting out health checks do not hold up the rest; and a Kustomization whose
    // dependency was not Ready tries again after 5 s, not Flux's default 30 s.
    startFluxControllers(join(dir, 'flux'), infra, controlPlane.kubeconfig, { requeueDependency: '5s', concurrent: 16 }),
    // One ESO for every test file's ClusterSecretStore and ExternalSecrets; a few syncs at once, so one file's
    // store that fails (and backs off) does not hold up another's.
    startExternalSecrets(join(dir, 'external-secrets'), infra, controlPlane.kubeconfig, { concurrent: 4 }),
  ]);
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
    [TEST_ENV.jaegerOtlp]: jaeger.otlpGrpcUrl,
    [TEST_ENV.jaegerQuery]: jaeger.queryUrl,
    [TEST_ENV.keycloakUrl]: keycloak.url,
    [TEST_ENV.keycloakAdmin]: `${keycloak.admin.username}:${keycloak.admin.password}`,
    [TEST_ENV.keycloakLog]: keycloak.logFile,
    [TEST_ENV.gitRoot]: gitRoot,
    [TEST_ENV.gitUrl]: git.url,
    [TEST_ENV.externalSecretsLog]: externalSecrets.controller.logFile,
  });
  globalThis.clusterOpsStop = async () => {
    await Promise.all([flux.stop(), git.close(), externalSecrets.stop()]);
    await Promise.all([temporal.stop(), controlPlane.stop(), victoriaMetrics.stop(), jaeger.stop(), keycloak.stop()]);
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
    for (const server of ['kube', 'flux', 'external-secrets', 'temporal', 'victoria-metrics', 'jaeger', 'keycloak']) killLeftovers(join(dir, server));
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
