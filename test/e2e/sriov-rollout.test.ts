import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { ADMIN_CORDON } from '../../src/activities/kube/nodes.js';
import type { Progress } from '../../src/schemas/progress.js';
import { sriovRolloutId } from '../../src/schemas/sriov-rollout.js';
import type { sriovRollout } from '../../src/workflows/sriov-rollout.js';
import { spawnBuiltWorker } from '../helpers/temporal.js';
import { allocatableVfs, startTestGitOps, watchDgxInvariants } from '../helpers/gitops.js';
import { eventually, uniqueName } from '../helpers/kube.js';
import { fileWorld } from '../helpers/world.js';

// The rollout on the Temporal dev server with the built worker as its own process, against the real API
// server: 4 → 8 VFs on both DGX nodes, with the worker SIGKILLed in the middle of a drain.
const world = fileWorld('e2e-sriov', (cluster) => startTestGitOps(cluster));

function startWorker(taskQueue: string, checkoutDir: string): ChildProcess {
  const worker = spawnBuiltWorker(taskQueue, world.bed.workerEnv(checkoutDir));
  worker.stdout!.resume(); // its JSON logs are not needed here; keep the pipe flowing
  return worker;
}

test('4 → 8 VFs on both DGX nodes, never both cordoned, surviving a SIGKILLed worker mid-drain', async () => {
  const { cluster, bed: gitops, client } = world;
  const [first, second] = gitops.dgxNodes as [string, string];
  const taskQueue = uniqueName('e2e-sriov');
  const checkoutDir = mkdtempSync(join(tmpdir(), 'worker-checkout-'));
  const invariants = watchDgxInvariants(cluster, gitops.dgxNodes);
  await invariants.started;

  // A training pod on the first node that its PodDisruptionBudget keeps, so the drain is in progress
  // when the worker dies.
  await cluster.addPod(first, 'trainer', { app: 'trainer' });
  await cluster.addBlockingPdb('trainer');

  let worker = startWorker(taskQueue, checkoutDir);
  const input = gitops.rolloutInput({ numVfs: 8 });
  const handle = await client.workflow.start<typeof sriovRollout>('sriovRollout', { taskQueue, workflowId: sriovRolloutId(input.cluster), args: [input] });
  try {
    await eventually(
      async () => {
        const progress = await handle.query<Progress>('progress').catch(() => undefined);
        return progress?.steps.find((s) => s.name === `node ${first}`)?.message?.startsWith('drain:');
      },
      'the drain of the first node',
      90_000,
    );
    expect(await cluster.podNames(first)).toContain('trainer');

    worker.kill('SIGKILL');
    await new Promise((resolve) => worker.once('exit', resolve));
    // While no worker runs, the training job finishes: its budget goes away.
    await cluster.kube.policy.deleteNamespacedPodDisruptionBudget({ name: 'trainer', namespace: cluster.namespace });
    worker = startWorker(taskQueue, checkoutDir);

    const result = await handle.result();
    expect(result.outcome).toBe('completed');
    expect(result.nodes.map((n) => [n.node, n.status])).toEqual([
      [first, 'changed'],
      [second, 'changed'],
    ]);
  } finally {
    worker.kill('SIGTERM');
    await invariants.stop();
  }
  for (const node of gitops.dgxNodes) {
    expect(await allocatableVfs(cluster, node)).toBe('8');
    expect((await cluster.kube.core.readNode({ name: node })).spec?.unschedulable).toBeFalsy();
    // Restarted exactly once per node, even across the worker's death.
    expect(invariants.deletedPodsPerNode.get(node)).toBe(1);
  }
  expect(invariants.bothCordoned()).toBe(false);
  expect(await cluster.podNames(first)).not.toContain('trainer');
}, 420_000);

test('with a beforeDrain hook Job and a health gate: the node an admin cordoned stays cordoned, the other is uncordoned, and the report says why', async () => {
  const { cluster, bed: gitops, client } = world;
  const [adminCordoned, other] = gitops.dgxNodes as [string, string];
  await cluster.kube.core.patchNode(
    { name: adminCordoned, body: { spec: { unschedulable: true } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  const taskQueue = uniqueName('e2e-sriov-gates');
  const worker = startWorker(taskQueue, mkdtempSync(join(tmpdir(), 'worker-checkout-')));
  const input = gitops.rolloutInput({
    numVfs: 4,
    settleSeconds: 3,
    healthGate: { fluxNamespace: cluster.namespace, timeoutSeconds: 60 },
    hooks: {
      beforeDrain: {
        namespace: cluster.namespace,
        job: {
          metadata: { name: 'rdma-quiesce' },
          spec: { template: { spec: { containers: [{ name: 'quiesce', image: 'registry.invalid/rdma-quiesce:1' }] } } },
        },
      },
    },
  });
  try {
    const result = await client.workflow.execute<typeof sriovRollout>('sriovRollout', { taskQueue, workflowId: sriovRolloutId(input.cluster), args: [input] });
    expect(result.outcome).toBe('completed');
    expect(result.nodes).toEqual([
      expect.objectContaining({
        node: adminCordoned,
        status: 'changed',
        leftCordoned: true,
        cordonedBefore: ADMIN_CORDON,
        message: expect.stringContaining('left cordoned'),
      }),
      expect.objectContaining({ node: other, status: 'changed', leftCordoned: false }),
    ]);
    expect(result.plan.steps[adminCordoned]).toEqual(
      expect.arrayContaining([expect.stringContaining(`no failing Flux Kustomization in ${cluster.namespace}`)]),
    );
  } finally {
    worker.kill('SIGTERM');
  }
  expect((await cluster.kube.core.readNode({ name: adminCordoned })).spec?.unschedulable).toBe(true);
  expect((await cluster.kube.core.readNode({ name: other })).spec?.unschedulable).toBeFalsy();
  const hooks = await cluster.kube.batch.listNamespacedJob({ namespace: cluster.namespace, labelSelector: 'cluster-ops.wcloud.sh/hook=beforeDrain' });
  expect(hooks.items.map((job) => [job.metadata!.labels!['cluster-ops.wcloud.sh/node'], job.status?.succeeded]).sort()).toEqual(
    [
      [adminCordoned, 1],
      [other, 1],
    ].sort(),
  );
  for (const node of gitops.dgxNodes) expect(await allocatableVfs(cluster, node)).toBe('4');
}, 420_000);
