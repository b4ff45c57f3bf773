import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sriovRolloutId } from '../../src/schemas/sriov-rollout.js';
import type { sriovRollout } from '../../src/workflows/sriov-rollout.js';
import { allocatableVfs, startTestGitOps, watchDgxInvariants } from '../helpers/gitops.js';
import { killAtEveryBoundary, printSweep } from '../helpers/kill-sweep.js';
import { uniqueName } from '../helpers/kube.js';
import { fileWorld } from '../helpers/world.js';

// sriovRollout 4 → 8 VFs over the two DGX test nodes (Git change, Flux, then node by node with a drain child
// each), its worker SIGKILLed at every activity boundary in turn, on the dev server and the real API server.
const world = fileWorld('sweep-sriov', (cluster) => startTestGitOps(cluster));

test('sriovRollout over both DGX nodes completes after a SIGKILL at each activity boundary, never both nodes cordoned', async () => {
  const { cluster, bed: gitops, client } = world;
  const taskQueue = uniqueName('sweep-sriov');
  const invariants = watchDgxInvariants(cluster, gitops.dgxNodes);
  await invariants.started;
  await cluster.addPod(gitops.dgxNodes[0]!, 'trainer', { app: 'trainer' });
  // Verification waits as long as on a busy cluster: the sweep adds a worker start to every step.
  const input = gitops.rolloutInput({ numVfs: 8, settleSeconds: 2, node: { verifyTimeoutSeconds: 120 } });
  const handle = await client.workflow.start<typeof sriovRollout>('sriovRollout', { taskQueue, workflowId: sriovRolloutId(input.cluster), args: [input] });
  let figure;
  try {
    figure = await killAtEveryBoundary(client, handle, taskQueue, gitops.workerEnv(mkdtempSync(join(tmpdir(), 'worker-checkout-'))));
  } finally {
    await invariants.stop();
  }
  const result = await handle.result();
  expect(result.outcome).toBe('completed');
  expect(result.nodes.map((n) => [n.node, n.status, n.leftCordoned])).toEqual(gitops.dgxNodes.map((node) => [node, 'changed', false]));
  for (const node of gitops.dgxNodes) {
    expect(await allocatableVfs(cluster, node)).toBe('8');
    expect((await cluster.kube.core.readNode({ name: node })).spec?.unschedulable).toBeFalsy();
    expect(invariants.deletedPodsPerNode.get(node)).toBe(1);
  }
  expect(invariants.bothCordoned()).toBe(false);
  expect(await cluster.podNames(gitops.dgxNodes[0]!)).not.toContain('trainer');
  expect(figure.kills).toBe(figure.boundaries);
  expect(figure.boundaries).toBeGreaterThan(15);
  printSweep('sriovRollout', figure);
}, 600_000);
