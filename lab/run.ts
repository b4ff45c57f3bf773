import { mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { kubeClients, loadKubeConfig } from '../src/activities/kube/clients.js';
import { createWorker } from '../src/worker.js';
import { installInfra } from './infra/paths.js';
import { startControlPlane } from './kube/control-plane.js';
import { ensureNode, WILLINGHAM_NODES } from './kube/nodes.js';
import { repoRoot } from './repo-root.js';
import { startTemporalDevServer } from './temporal.js';

/**
 * `npm run lab`: the whole service on this machine. A real Temporal dev server with its UI, a real
 * Kubernetes control plane whose three nodes (mirroring willingham-k8s) are simulated by KWOK, and the
 * cluster-ops worker. State is kept under .lab/ across restarts; Ctrl-C stops everything.
 */
async function main() {
  const root = repoRoot();
  const dir = process.env.LAB_DIR ?? join(root, '.lab');
  const temporalPort = Number(process.env.LAB_TEMPORAL_PORT ?? 7233);
  const uiPort = Number(process.env.LAB_UI_PORT ?? 8233);
  const taskQueue = process.env.TASK_QUEUE ?? 'cluster-ops';
  mkdirSync(dir, { recursive: true });
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });

  const infra = await installInfra();
  const [temporal, controlPlane] = await Promise.all([
    startTemporalDevServer(join(dir, 'temporal'), infra, { port: temporalPort, uiPort }),
    startControlPlane(join(dir, 'kube'), infra),
  ]);
  const kube = kubeClients(loadKubeConfig(controlPlane.kubeconfig));
  for (const node of WILLINGHAM_NODES) await ensureNode(kube.core, node);

  const connection = await NativeConnection.connect({ address: temporal.address });
  const worker = await createWorker({
    connection,
    namespace: 'default',
    taskQueue,
    deps: { kube },
    workflowBundlePath: join(root, 'dist/workflow-bundle.js'),
  });
  const running = worker.run();

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping the lab...');
    worker.shutdown();
    await running.catch(() => undefined);
    await connection.close();
    await Promise.all([temporal.stop(), controlPlane.stop()]);
    console.log('lab stopped');
    process.exit(0);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop());

  const kubeconfig = relative(process.cwd(), controlPlane.kubeconfig) || controlPlane.kubeconfig;
  const kubectl = join(infra.kubeBin, 'kubectl');
  console.log(`
cluster-ops lab is up (simulated cluster: nodes are KWOK, not real kubelets)

  Temporal UI      ${temporal.uiUrl}
  Temporal gRPC    ${temporal.address}   task queue: ${taskQueue}
  Kubernetes API   ${controlPlane.server}
  kubeconfig       export KUBECONFIG=${controlPlane.kubeconfig}
  kubectl          ${kubectl} --kubeconfig ${kubeconfig} get nodes

Try:
  ${infra.temporal} workflow start --address ${temporal.address} --task-queue ${taskQueue} \\
      --type drainNode --workflow-id drain-node-talos-7aj-lwl --input '{"node":"talos-7aj-lwl","dryRun":true}'
  ${infra.temporal} workflow list --address ${temporal.address}
  TEMPORAL_ADDRESS=${temporal.address} node dist/src/client/cli.js list
  TEMPORAL_ADDRESS=${temporal.address} node dist/src/client/cli.js start drainNode --input '{"node":"talos-ysi-4k0","uncordonAfter":true}'

Ctrl-C stops everything.`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
