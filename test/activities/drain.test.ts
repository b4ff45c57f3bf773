import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities/index.js';
import { DRAIN_BUCKETS } from '../../src/domain/drain.js';
import type { DrainPlan, DrainPodPolicy } from '../../src/domain/drain.js';
import { DrainPodPolicyInput } from '../../src/schemas/drain-node.js';
import { clusterForActivities, eventually, hookEvictions, KWOK_FAIL_LABEL } from '../helpers/kube.js';
import { activityRunner } from '../helpers/temporal.js';

const run = activityRunner();
const k8s = clusterForActivities('drain');
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const HOLD = 'test.cluster-ops.wcloud.sh/hold';

const defaults: DrainPodPolicy = DrainPodPolicyInput.parse({});
const evictAll: DrainPodPolicy = { unmanagedPods: 'evict', emptyDirPods: 'evict' };

test('a pass evicts controlled pods, ignores DaemonSet pods, and reports PDB refusals (429) per pod', async () => {
  const node = await k8s.cluster.addNode();
  const ns = k8s.cluster.namespace;
  await k8s.cluster.addPod(node, 'web-1', { app: 'web' });
  await k8s.cluster.addPod(node, 'db-1', { app: 'db' });
  const daemonPod = await k8s.cluster.addDaemonSet(node, 'sriov-plugin');
  await k8s.cluster.addBlockingPdb('db');

  const plan = await run(k8s.activities.planNodeDrain, { node, policy: defaults });
  expect(plan.evict.map((e) => e.pod)).toEqual([`${ns}/db-1`, `${ns}/web-1`]);
  expect(plan.ignored).toEqual([{ pod: `${ns}/${daemonPod}`, reason: 'DaemonSet' }]);

  const pass = await run(k8s.activities.drainPass, { node, policy: defaults });
  expect(pass.drained).toBe(false);
  expect(pass.evicted).toEqual([`${ns}/web-1`]);
  expect(pass.blocked).toHaveLength(1);
  expect(pass.blocked[0]!.pod).toBe(`${ns}/db-1`);
  expect(pass.blocked[0]!.reason).toMatch(/HTTP 429: .*disruption budget/);
  expect(pass.failed).toEqual([]);

  // KWOK deletes the evicted pod; the PDB-guarded one stays. The ReplicaSet's replacement waits unscheduled.
  await eventually(async () => (await k8s.cluster.podNames(node)).join() === ['db-1', daemonPod].sort().join(), 'web-1 gone');

  await k8s.cluster.kube.policy.deleteNamespacedPodDisruptionBudget({ name: 'db', namespace: ns });
  // Nothing blocked this time: the pass waits for the evicted pod to be gone, as kubectl drain does, and is the last.
  const second = await run(k8s.activities.drainPass, { node, policy: defaults });
  expect(second).toMatchObject({ drained: true, evicted: [`${ns}/db-1`], blocked: [], deleting: [] });
  expect(await k8s.cluster.podNames(node)).toEqual([daemonPod]);
  const last = await run(k8s.activities.drainPass, { node, policy: defaults });
  expect(last).toMatchObject({ drained: true, evicted: [], blocked: [] });
});

test('a pass that is cancelled removes no further pod: the eviction in flight ends, and the pass reports itself cancelled', async () => {
  const { cluster } = k8s;
  const node = await cluster.addNode();
  for (const pod of ['stop-1', 'stop-2', 'stop-3']) await cluster.addPod(node, pod);
  const env = new MockActivityEnvironment();
  const evicting: string[] = [];
  const cancelledDuringFirst = hookEvictions(cluster.kube, (pod) => {
    evicting.push(pod);
    env.cancel();
  });
  const { drainPass } = createActivities({ kube: cancelledDuringFirst, leaseNamespace: cluster.namespace });

  await expect(env.run(drainPass, { node, policy: defaults })).rejects.toBeInstanceOf(CancelledFailure);
  expect(evicting).toEqual([`${cluster.namespace}/stop-1`]);
  expect(await cluster.podNames(node)).toEqual(expect.arrayContaining(['stop-2', 'stop-3']));
});

describe('every kind of pod, as the API server has it, under each pod policy', () => {
  let node: string;
  /** Pod names by row, for pods whose names a controller chose. */
  const names: Record<string, string> = {};
  const plans = {} as Record<'defaults' | 'evictAll', DrainPlan>;

  beforeAll(async () => {
    const { cluster } = k8s;
    node = await cluster.addNode();
    const { namespace } = cluster;

    await cluster.addPod(node, 'web');
    names.daemonSet = await cluster.addDaemonSet(node, 'agent');

    // A DaemonSet being deleted (held by a finalizer): its pod still names it as controller, but the
    // DaemonSet controller no longer recreates it.
    names.retiringDaemonSet = await cluster.addDaemonSet(node, 'retiring');
    await cluster.kube.apps.patchNamespacedDaemonSet({ name: 'retiring', namespace, body: { metadata: { finalizers: [HOLD] } } }, mergePatch);
    await cluster.kube.apps.deleteNamespacedDaemonSet({ name: 'retiring', namespace });

    // `kubectl delete ds --cascade=orphan`: the garbage collector strips the pod's ownerReferences.
    names.orphanedDaemonSet = await cluster.addDaemonSet(node, 'orphaned');
    await cluster.kube.apps.deleteNamespacedDaemonSet({ name: 'orphaned', namespace, propagationPolicy: 'Orphan' });
    await eventually(async () => {
      const pod = await cluster.kube.core.readNamespacedPod({ name: names.orphanedDaemonSet!, namespace });
      return (pod.metadata?.ownerReferences ?? []).length === 0;
    }, 'orphaned DaemonSet pod released');

    // What the kubelet writes for a static pod: the mirror annotation, the Node as controller.
    const { metadata: nodeMeta } = await cluster.kube.core.readNode({ name: node });
    await cluster.addPod(
      node,
      'static-etcd',
      {},
      {
        controller: 'none',
        metadata: {
          annotations: { 'kubernetes.io/config.mirror': 'a1b2c3' },
          ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: node, uid: nodeMeta!.uid!, controller: true }],
        },
      },
    );

    names.succeeded = await cluster.addFinishedJob(node, 'report');
    await cluster.addPod(node, 'crashed', { [KWOK_FAIL_LABEL]: 'true' }, { controller: 'none' });
    await cluster.waitForPodPhase('crashed', 'Failed');

    await cluster.addPod(node, 'bare', {}, { controller: 'none' });
    await cluster.addPod(node, 'scratch', {}, { volumes: [{ name: 'cache', emptyDir: {} }] });
    await cluster.addPod(node, 'bare-scratch', {}, { controller: 'none', volumes: [{ name: 'shm', emptyDir: { medium: 'Memory' } }] });
    await cluster.addPod(node, 'pinned', { 'cluster-ops.wcloud.sh/drain': 'skip' }, { controller: 'none' });
    await cluster.addPod(node, 'capi-pinned', { 'cluster.x-k8s.io/drain': 'skip' });
    await cluster.addPod(node, 'leaving', {}, { metadata: { finalizers: [HOLD] } });
    await cluster.kube.core.deleteNamespacedPod({ name: 'leaving', namespace });

    plans.defaults = await run(k8s.activities.planNodeDrain, { node, policy: defaults });
    plans.evictAll = await run(k8s.activities.planNodeDrain, { node, policy: evictAll });
  }, 120_000);

  afterAll(async () => {
    // Finalizers would keep the namespace from ever going away.
    const { cluster } = k8s;
    const release = { metadata: { finalizers: null } };
    await Promise.allSettled([
      cluster.kube.apps.patchNamespacedDaemonSet({ name: 'retiring', namespace: cluster.namespace, body: release }, mergePatch),
      cluster.kube.core.patchNamespacedPod({ name: 'leaving', namespace: cluster.namespace, body: release }, mergePatch),
    ]);
  });

  /** Where a pod landed in a plan, and why. */
  const decision = (plan: DrainPlan, pod: string) => {
    const key = `${k8s.cluster.namespace}/${names[pod] ?? pod}`;
    const found = DRAIN_BUCKETS.flatMap((bucket) => plan[bucket].filter((p) => p.pod === key).map((p) => ({ bucket, reason: p.reason })));
    expect(found).toHaveLength(1);
    return found[0];
  };

  const managed = ['evict', /^ReplicaSet web-[0-9a-f]{6}$/] as const;
  const unmanagedRefused = ['refused', /^no controller recreates it; set unmanagedPods: 'evict' to evict it$/] as const;
  const unmanagedEvicted = ['evict', /^no controller recreates it \(unmanagedPods: 'evict'\)$/] as const;
  test.each([
    ["a Deployment's pod (ReplicaSet controller) is evicted", 'web', managed, managed],
    ['a DaemonSet pod is ignored', 'daemonSet', ['ignored', /^DaemonSet$/], ['ignored', /^DaemonSet$/]],
    [
      'a pod of a DaemonSet being deleted is unmanaged',
      'retiringDaemonSet',
      ['refused', /^its DaemonSet retiring is gone or being deleted, nothing recreates it; set unmanagedPods: 'evict' to evict it$/],
      ['evict', /^its DaemonSet retiring is gone or being deleted, nothing recreates it \(unmanagedPods: 'evict'\)$/],
    ],
    ['a pod its DaemonSet orphaned is unmanaged', 'orphanedDaemonSet', unmanagedRefused, unmanagedEvicted],
    ['a mirror pod is ignored', 'static-etcd', ['ignored', /^mirror pod$/], ['ignored', /^mirror pod$/]],
    ["a Job's finished pod is deleted", 'succeeded', ['delete', /^finished \(Succeeded\)$/], ['delete', /^finished \(Succeeded\)$/]],
    ['a failed bare pod is deleted, whatever unmanagedPods says', 'crashed', ['delete', /^finished \(Failed\)$/], ['delete', /^finished \(Failed\)$/]],
    ['a bare pod follows unmanagedPods', 'bare', unmanagedRefused, unmanagedEvicted],
    [
      'a controlled pod with emptyDir follows emptyDirPods',
      'scratch',
      ['refused', /^emptyDir cache loses its data; set emptyDirPods: 'evict' to evict it$/],
      ['evict', /^emptyDir cache loses its data \(emptyDirPods: 'evict'\)$/],
    ],
    [
      'a bare pod with emptyDir names both policies',
      'bare-scratch',
      ['refused', /^no controller recreates it; set unmanagedPods: 'evict' to evict it; emptyDir shm loses its data; set emptyDirPods/],
      ['evict', /^no controller recreates it \(unmanagedPods: 'evict'\); emptyDir shm loses its data \(emptyDirPods: 'evict'\)$/],
    ],
    [
      'our skip label leaves even a bare pod alone',
      'pinned',
      ['ignored', /^label cluster-ops\.wcloud\.sh\/drain=skip$/],
      ['ignored', /^label cluster-ops\.wcloud\.sh\/drain=skip$/],
    ],
    [
      "Cluster API's skip label is honoured",
      'capi-pinned',
      ['ignored', /^label cluster\.x-k8s\.io\/drain=skip$/],
      ['ignored', /^label cluster\.x-k8s\.io\/drain=skip$/],
    ],
    ['an already terminating pod is waited for', 'leaving', ['deleting', /^already terminating$/], ['deleting', /^already terminating$/]],
  ] as const)('%s', (_, pod, [defaultBucket, defaultReason], [evictAllBucket, evictAllReason]) => {
    expect(decision(plans.defaults, pod)).toEqual({ bucket: defaultBucket, reason: expect.stringMatching(defaultReason) });
    expect(decision(plans.evictAll, pod)).toEqual({ bucket: evictAllBucket, reason: expect.stringMatching(evictAllReason) });
  });

  test('a pass with a refused pod removes nothing; with the pods allowed it deletes finished pods and evicts the rest', async () => {
    const { cluster } = k8s;
    const ns = cluster.namespace;
    const before = await cluster.podNames(node);
    const refused = await run(k8s.activities.drainPass, { node, policy: defaults });
    expect(refused).toMatchObject({ drained: false, evicted: [], deleted: [], blocked: [], failed: [] });
    expect(refused.refused.map((r) => r.pod)).toEqual(
      ['bare', 'bare-scratch', names.orphanedDaemonSet, names.retiringDaemonSet, 'scratch'].map((p) => `${ns}/${p}`).sort(),
    );
    expect(await cluster.podNames(node)).toEqual(before);

    const pass = await run(k8s.activities.drainPass, { node, policy: evictAll });
    expect(pass).toMatchObject({ drained: false, refused: [], blocked: [], failed: [] });
    expect(pass.deleted).toEqual([`${ns}/crashed`, `${ns}/${names.succeeded}`].sort());
    expect(pass.evicted).toEqual(['bare', 'bare-scratch', names.orphanedDaemonSet, names.retiringDaemonSet, 'scratch', 'web'].map((p) => `${ns}/${p}`).sort());
    const staying = [names.daemonSet!, 'static-etcd', 'pinned', 'capi-pinned'];
    await eventually(async () => (await cluster.podNames(node)).join() === [...staying, 'leaving'].sort().join(), 'finished pods deleted, the rest evicted');

    await cluster.kube.core.patchNamespacedPod({ name: 'leaving', namespace: ns, body: { metadata: { finalizers: null } } }, mergePatch);
    await eventually(async () => (await cluster.podNames(node)).join() === [...staying].sort().join(), 'terminating pod gone');
    const last = await run(k8s.activities.drainPass, { node, policy: defaults });
    expect(last).toMatchObject({ drained: true, evicted: [], deleted: [], refused: [] });
    expect(last.ignored.map((i) => i.pod)).toEqual(staying.map((p) => `${ns}/${p}`).sort());
  });
});
