import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { setNodeNotReady } from '../../lab/kube/nodes.js';
import { clusterForActivities } from '../helpers/kube.js';
import { activityRunner } from '../helpers/temporal.js';
import { FailureType } from '../../src/failures.js';

const run = activityRunner();
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const k8s = clusterForActivities('wait');

test('returns at once when the node already meets the expectation', async () => {
  const node = await k8s.cluster.addNode();
  const result = await run(k8s.activities.waitForNode, {
    node,
    timeoutSeconds: 5,
    condition: { type: 'Ready', status: 'True' },
    allocatable: { resource: 'nvidia.com/cx7_qsfp', quantity: '4' },
  });
  expect(result.node).toBe(node);
});

test('follows the node through a watch until it turns NotReady', async () => {
  const node = await k8s.cluster.addNode();
  const waiting = run(k8s.activities.waitForNode, { node, timeoutSeconds: 30, condition: { type: 'Ready', status: 'False' } });
  await setNodeNotReady(k8s.cluster.kube.core, node, true);
  const result = await waiting;
  expect(result.waitedMs).toBeGreaterThan(0);
  const current = await k8s.cluster.kube.core.readNode({ name: node });
  expect(current.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
});

test('sees an allocatable change', async () => {
  const node = await k8s.cluster.addNode();
  const waiting = run(k8s.activities.waitForNode, {
    node,
    timeoutSeconds: 30,
    allocatable: { resource: 'nvidia.com/cx7_qsfp', quantity: '8' },
  });
  await k8s.cluster.kube.core.patchNodeStatus(
    { name: node, body: { status: { allocatable: { 'nvidia.com/cx7_qsfp': '8' }, capacity: { 'nvidia.com/cx7_qsfp': '8' } } } },
    mergePatch,
  );
  await expect(waiting).resolves.toMatchObject({ node });
});

test('times out with a non-retryable failure that says what still differs', async () => {
  const node = await k8s.cluster.addNode();
  await expect(
    run(k8s.activities.waitForNode, { node, timeoutSeconds: 1, allocatable: { resource: 'nvidia.com/cx7_qsfp', quantity: '2' } }),
  ).rejects.toMatchObject({
    type: FailureType.WaitTimedOut,
    nonRetryable: true,
    message: expect.stringContaining('allocatable nvidia.com/cx7_qsfp is 4, want 2'),
  });
});
