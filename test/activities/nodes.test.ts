import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { ADMIN_CORDON, CORDONED_BY_ANNOTATION, createNodeActivities } from '../../src/activities/kube/nodes.js';
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

/**
 * Node activities whose next read of `node` is followed, before anything else reaches the API server, by
 * `meanwhile`: a write by someone else that lands between our read and our write.
 */
function activitiesRacing(node: string, meanwhile: () => Promise<unknown>) {
  const { core } = k8s.cluster.kube;
  let raced = false;
  const racingCore = new Proxy(core, {
    get(target, property, receiver) {
      if (property !== 'readNode') return Reflect.get(target, property, receiver) as unknown;
      return async (request: { name: string }) => {
        const read = await target.readNode(request);
        if (request.name === node && !raced) {
          raced = true;
          await meanwhile();
        }
        return read;
      };
    },
  });
  return createNodeActivities({ ...k8s.cluster.kube, core: racingCore });
}

test("an admin's cordon that lands between our read and our write is theirs: reported, never adopted, never undone", async () => {
  const node = await k8s.cluster.addNode();
  const admin = () => k8s.cluster.kube.core.patchNode({ name: node, body: { spec: { unschedulable: true } } }, mergePatch);
  const racing = activitiesRacing(node, admin);
  expect(await run(racing.cordonNode, { node, owner: 'wf-race' })).toEqual({ node, cordonedByOthers: true, cordonedBefore: ADMIN_CORDON });
  const current = await readNode(node);
  expect(current.spec?.unschedulable).toBe(true);
  expect(current.metadata?.annotations?.[CORDONED_BY_ANNOTATION]).toBeUndefined();
  expect(await run(k8s.activities.uncordonNode, { node, owner: 'wf-race' })).toMatchObject({ uncordoned: false });
  expect((await readNode(node)).spec?.unschedulable).toBe(true);
});

test('a cordon handed to another run between our read and our uncordon stays: the write conflicts and the fresh read says whose it is', async () => {
  const node = await k8s.cluster.addNode();
  await run(k8s.activities.cordonNode, { node, owner: 'wf-first' });
  const handOver = () =>
    k8s.cluster.kube.core.patchNode({ name: node, body: { metadata: { annotations: { [CORDONED_BY_ANNOTATION]: 'wf-second' } } } }, mergePatch);
  const racing = activitiesRacing(node, handOver);
  expect(await run(racing.uncordonNode, { node, owner: 'wf-first' })).toEqual({ node, uncordoned: false, reason: 'cordoned by wf-second, left as is' });
  const current = await readNode(node);
  expect(current.spec?.unschedulable).toBe(true);
  expect(current.metadata?.annotations?.[CORDONED_BY_ANNOTATION]).toBe('wf-second');
});
