import type { Progress } from '../../src/schemas/progress.js';
import type { bootstrapCluster } from '../../src/workflows/bootstrap-cluster.js';
import { eventually, uniqueName } from '../helpers/kube.js';
import { spawnBuiltWorker } from '../helpers/temporal.js';
import { startTestFluxSeed } from '../helpers/gitops.js';
import { fileWorld } from '../helpers/world.js';

// bootstrapCluster on the dev server with the built worker as a process, SIGKILLed in the middle, driving the
// run's real Flux controllers over the seed's layers: Namespaces, a CRD and the resource that needs it,
// DaemonSets and Deployments that KWOK makes Ready, under `wait: true`.
const world = fileWorld('e2e-bootstrap', startTestFluxSeed);

test('a worker killed mid-bootstrap is replaced and the run finishes with every Kustomization Ready', async () => {
  const { cluster, client } = world;
  const taskQueue = uniqueName('e2e-bootstrap');
  let worker = spawnBuiltWorker(taskQueue);
  worker.stdout!.resume();
  const handle = await client.workflow.start<typeof bootstrapCluster>('bootstrapCluster', {
    taskQueue,
    workflowId: uniqueName('bootstrap-cluster'),
    args: [{ namespace: cluster.namespace, parallelism: 2 }],
  });
  try {
    await eventually(
      async () => {
        const progress = await handle.query<Progress>('progress').catch(() => undefined);
        return progress?.steps.find((s) => s.name.endsWith('/operators'))?.phase === 'running';
      },
      'operators reconciling',
      60_000,
    );
    worker.kill('SIGKILL');
    await new Promise((resolve) => worker.once('exit', resolve));
    worker = spawnBuiltWorker(taskQueue);
    worker.stdout!.resume();
    const result = await handle.result();
    expect(result.outcome).toBe('completed');
    expect(result.kustomizations.map((k) => k.phase)).toEqual(Array(12).fill('ready'));
    // The Deployments Flux waited for are really there and Ready.
    const deployment = await cluster.kube.apps.readNamespacedDeployment({ namespace: cluster.namespace, name: 'lab-vpa' });
    expect(deployment.status?.readyReplicas).toBe(1);
    // The longest chain ends at a Kustomization nothing depends on; which one depends on timing (the
    // Kustomization reconciling while the worker was dead takes longest).
    const sinks = ['argo', 'dev-platform', 'messaging', 'network', 'security', 'vpa'].map((name) => `${cluster.namespace}/${name}`);
    expect(result.criticalPath.path[0]).toBe(`${cluster.namespace}/namespaces`);
    expect(sinks).toContain(result.criticalPath.path.at(-1));
  } finally {
    worker.kill('SIGTERM');
  }
}, 180_000);
