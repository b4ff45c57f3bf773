import { Client, Connection } from '@temporalio/client';
import { startLabGitOps, TEST_GROUP_LABEL } from '../../lab/gitops.js';
import type { LabGitOps } from '../../lab/gitops.js';
import type { bootstrapCluster } from '../../src/workflows/bootstrap-cluster.js';
import { testEnv } from '../helpers/env.js';
import { testGitServing } from '../helpers/gitops.js';
import { killAtEveryBoundary, printSweep } from '../helpers/kill-sweep.js';
import { TestCluster, uniqueName } from '../helpers/kube.js';

// bootstrapCluster over the seed's 12 Kustomizations on the real Flux controllers, its worker SIGKILLed at
// every activity boundary in turn.
let cluster: TestCluster;
let lab: LabGitOps;
let client: Client;

beforeAll(async () => {
  cluster = await TestCluster.create('sweep-bootstrap');
  await cluster.addNode(undefined, { [TEST_GROUP_LABEL]: cluster.namespace });
  lab = await startLabGitOps(cluster.kube.config, testGitServing(), { name: cluster.namespace, placement: { namespace: cluster.namespace } });
  client = new Client({ connection: await Connection.connect({ address: testEnv('temporalAddress') }) });
});
afterAll(async () => {
  await client?.connection.close();
  await lab?.stop();
  await cluster?.close();
});

test('bootstrapCluster completes after a SIGKILL at each activity boundary, every Kustomization Ready', async () => {
  const taskQueue = uniqueName('sweep-bootstrap');
  const handle = await client.workflow.start<typeof bootstrapCluster>('bootstrapCluster', {
    taskQueue,
    workflowId: uniqueName('sweep-bootstrap'),
    args: [{ namespace: cluster.namespace, parallelism: 2 }],
  });
  const figure = await killAtEveryBoundary(client, handle, taskQueue);
  const result = await handle.result();
  expect(result.outcome).toBe('completed');
  expect(result.kustomizations.map((k) => k.phase)).toEqual(Array(12).fill('ready'));
  // Ready as Flux itself reports it, not only as the run recorded it.
  const { items } = await cluster.kube.custom.listNamespacedCustomObject({
    group: 'kustomize.toolkit.fluxcd.io',
    version: 'v1',
    namespace: cluster.namespace,
    plural: 'kustomizations',
  });
  const ready = (items as { status?: { conditions?: { type: string; status: string }[] } }[]).filter((k) =>
    k.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
  );
  expect(ready).toHaveLength(12);
  expect(figure.kills).toBe(figure.boundaries);
  expect(figure.boundaries).toBeGreaterThan(12);
  printSweep('bootstrapCluster', figure);
}, 600_000);
