import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { CORDONED_BY_ANNOTATION } from '../../src/activities/kube/nodes.js';
import { clusterForActivities } from '../helpers/kube.js';
import { activityRunner } from '../helpers/temporal.js';

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
  await k8s.cluster.kube.core.patchNode(
    { name: node, body: { spec: { unschedulable: true } } },
    mergePatch,
  );
  expect(await run(k8s.activities.cordonNode, { node, owner: 'wf-3' })).toEqual({ node, cordonedByOthers: true });
  const result = await run(k8s.activities.uncordonNode, { node, owner: 'wf-3' });
  expect(result.uncordoned).toBe(false);
  expect((await readNode(node)).spec?.unschedulable).toBe(true);
});
