import { Client, Connection } from '@temporalio/client';
import { startLabGitOps, TEST_GROUP_LABEL } from '../../lab/gitops.js';
import type { LabGitOps } from '../../lab/gitops.js';
import type { Progress } from '../../src/schemas/progress.js';
import type { bootstrapCluster } from '../../src/workflows/bootstrap-cluster.js';
import { testEnv } from '../helpers/env.js';
import { testGitServing } from '../helpers/gitops.js';
import { eventually, TestCluster, uniqueName } from '../helpers/kube.js';
import { spawnBuiltWorker } from '../helpers/temporal.js';

// bootstrapCluster on the dev server with the built worker as a process, SIGKILLed in the middle, driving the
// run's real Flux controllers over the seed's layers: Namespaces, a CRD and the resource that needs it,
// DaemonSets and Deployments that KWOK makes Ready, under `wait: true`.
let cluster: TestCluster;
let lab: LabGitOps;
let client: Client;

beforeAll(async () => {
  cluster = await TestCluster.create('e2e-bootstrap');
  await cluster.addNode(undefined, { [TEST_GROUP_LABEL]: cluster.namespace });
  lab = await startLabGitOps(cluster.kube.config, testGitServing(), { name: cluster.namespace, placement: { namespace: cluster.namespace } });
  client = new Client({ connection: await Connection.connect({ address: testEnv('temporalAddress') }) });
});
afterAll(async () => {
  await client?.connection.close();
  await lab?.stop();
  await cluster?.close();
});

test('a worker killed mid-bootstrap is replaced and the run finishes with every Kustomization Ready', async () => {
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
