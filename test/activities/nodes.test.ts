import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { ADMIN_CORDON, CORDONED_BY_ANNOTATION } from '../../src/activities/kube/nodes.js';
import { DrainPodPolicyInput } from '../../src/schemas/drain-node.js';
import { clusterForActivities } from '../helpers/kube.js';
import { activityRunner } from '../helpers/temporal.js';
import { FailureType } from '../../src/failures.js';

// MockActivityEnvironment only supplies the activity context (heartbeats, cancellation);
// every call goes to the real API server.
const run = activityRunner();
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const k8s = clusterForActivities('nodes');

const readNode = (name: string) => k8s.cluster.kube.core.readNode({ name });

test('cordon marks the node unschedulable and records who did it; a retry reports the same', async () => {
  const node = await k8s.cluster.addNode();
  const first = await run(k8s.activities.cordonNode, { node, owner: 'wf-1' });
  const retry = await run(k8s.activities.cordonNode, { node, owner: 'wf-1' });
  expect(first).toEqual({ node, cordonedByOthers: false });
  expect(retry).toEqual(first);
  const current = await readNode(node);
  expect(current.spec?.unschedulable).toBe(true);
  expect(current.metadata?.annotations?.[CORDONED_BY_ANNOTATION]).toBe('wf-1');
});

test('uncordon undoes only our own cordon and is idempotent', async () => {
  const node = await k8s.cluster.addNode();
  await run(k8s.activities.cordonNode, { node, owner: 'wf-2' });
  expect(await run(k8s.activities.uncordonNode, { node, owner: 'wf-2' })).toMatchObject({ uncordoned: true });
  expect(await run(k8s.activities.uncordonNode, { node, owner: 'wf-2' })).toMatchObject({
    uncordoned: false,
    reason: 'node is schedulable',
  });
  const current = await readNode(node);
  expect(current.spec?.unschedulable).toBeFalsy();
  expect(current.metadata?.annotations?.[CORDONED_BY_ANNOTATION]).toBeUndefined();
});

test("an admin's cordon is reported and never undone by us", async () => {
  const node = await k8s.cluster.addNode();
  await k8s.cluster.kube.core.patchNode({ name: node, body: { spec: { unschedulable: true } } }, mergePatch);
  expect(await run(k8s.activities.cordonNode, { node, owner: 'wf-3' })).toEqual({ node, cordonedByOthers: true, cordonedBefore: ADMIN_CORDON });
  const result = await run(k8s.activities.uncordonNode, { node, owner: 'wf-3' });
  expect(result.uncordoned).toBe(false);
  expect((await readNode(node)).spec?.unschedulable).toBe(true);
});

test("another run's cordon is reported by that run's id", async () => {
  const node = await k8s.cluster.addNode();
  await run(k8s.activities.cordonNode, { node, owner: 'wf-other' });
  expect(await run(k8s.activities.cordonNode, { node, owner: 'wf-4' })).toEqual({ node, cordonedByOthers: true, cordonedBefore: 'wf-other' });
});

test('a deleted node fails for good, and has no cordon left to undo', async () => {
  const node = await k8s.cluster.addNode();
  const identity = await run(k8s.activities.nodeIdentity, { node });
  expect(identity.uid).not.toBe('');
  await k8s.cluster.kube.core.deleteNode({ name: node });
  await expect(run(k8s.activities.cordonNode, { node, owner: 'wf-5' })).rejects.toMatchObject({ type: FailureType.NodeGone, nonRetryable: true });
  await expect(run(k8s.activities.drainPass, { node, policy: DrainPodPolicyInput.parse({}) })).rejects.toMatchObject({ type: FailureType.NodeGone });
  await expect(run(k8s.activities.nodeIdentity, { node, expected: identity })).rejects.toMatchObject({ type: FailureType.NodeGone });
  expect(await run(k8s.activities.uncordonNode, { node, owner: 'wf-5' })).toEqual({ node, uncordoned: false, reason: 'node no longer exists' });
});

test('a node registered again under the same name is told apart by its uid', async () => {
  const node = await k8s.cluster.addNode();
  const identity = await run(k8s.activities.nodeIdentity, { node });
  await k8s.cluster.kube.core.deleteNode({ name: node });
  await k8s.cluster.addNode(undefined, {}, { name: node });
  await expect(run(k8s.activities.nodeIdentity, { node, expected: identity, rebootExpected: true })).rejects.toMatchObject({
    type: FailureType.NodeReplaced,
    message: expect.stringContaining('registered again'),
  });
});
