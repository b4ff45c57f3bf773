// Plain JavaScript on the built dist/ (npm run jest builds first): jest loads global setup outside its
// ESM module registry, where our TypeScript sources cannot be imported.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installInfra } from '../../dist/lab/infra/paths.js';
import { startControlPlane } from '../../dist/lab/kube/control-plane.js';
import { installCrds } from '../../dist/lab/kube/crds.js';
import { loadKubeConfig } from '../../dist/src/activities/kube/clients.js';
import { startTemporalDevServer } from '../../dist/lab/temporal.js';
import { bundleWorkflows } from '../../dist/src/workflow-bundle.js';
import { TEST_ENV } from './env.js';

/**
 * Starts one of each real server for the whole run (control plane with KWOK, Temporal dev server) and
 * bundles the workflows once. Test files get their own namespaces, nodes and task queues; each makes its
 * own time-skipping server, because that server's clock is shared by everything connected to it.
 */
export default async function globalSetup() {
  const dir = join(tmpdir(), 'cluster-ops-test');
  const infra = await installInfra();
  rmSync(join(dir, 'kube', 'etcd'), { recursive: true, force: true });
  rmSync(join(dir, 'temporal', 'temporal.db'), { force: true });
  mkdirSync(dir, { recursive: true });
  const [controlPlane, temporal, bundle] = await Promise.all([
    startControlPlane(join(dir, 'kube'), infra),
    startTemporalDevServer(join(dir, 'temporal'), infra, { headless: true }),
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
  });
  globalThis.clusterOpsStop = () => Promise.all([temporal.stop(), controlPlane.stop()]);
}
