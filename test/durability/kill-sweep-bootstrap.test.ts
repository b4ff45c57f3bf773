import type { bootstrapCluster } from '../../src/workflows/bootstrap-cluster.js';
import { killAtEveryBoundary, printSweep } from '../helpers/kill-sweep.js';
import { uniqueName } from '../helpers/kube.js';
import { startTestFluxSeed } from '../helpers/gitops.js';
import { fileWorld } from '../helpers/world.js';

// bootstrapCluster over the seed's 12 Kustomizations on the real Flux controllers, its worker SIGKILLed at
// every activity boundary in turn.
const world = fileWorld('sweep-bootstrap', startTestFluxSeed);

test('bootstrapCluster completes after a SIGKILL at each activity boundary, every Kustomization Ready', async () => {
  const { cluster, client } = world;
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
