import {
  DRAIN_BUCKETS,
  daemonSetControllers,
  describeLeftovers,
  describePass,
  describePlan,
  describeRefusals,
  planDrain,
  summarizePass,
} from '../../src/domain/drain.js';
import type { DrainPodPolicy, PodController, PodFacts } from '../../src/domain/drain.js';

const replicaSet: PodController = { group: 'apps', kind: 'ReplicaSet', name: 'web-5d8f', uid: 'rs-uid' };
const agent: PodController = { group: 'apps', kind: 'DaemonSet', name: 'agent', uid: 'ds-uid' };
const pod = (name: string, extra: Partial<PodFacts> = {}): PodFacts => ({
  namespace: 'ns',
  name,
  labels: {},
  controller: replicaSet,
  mirror: false,
  deleting: false,
  phase: 'Running',
  emptyDirVolumes: [],
  ...extra,
});
const liveDaemonSets = new Set([agent.uid]);
const refuse: DrainPodPolicy = { unmanagedPods: 'refuse', emptyDirPods: 'refuse' };
const evictAll: DrainPodPolicy = { unmanagedPods: 'evict', emptyDirPods: 'evict' };

/** The one bucket a pod lands in, and why. */
function decide(facts: PodFacts, policy = refuse) {
  const plan = planDrain({ pods: [facts], policy, liveDaemonSets });
  return DRAIN_BUCKETS.flatMap((bucket) => plan[bucket].map((p) => `${bucket}: ${p.reason}`));
}

describe('planDrain', () => {
  test.each([
    ['a ReplicaSet pod is evicted', pod('a'), refuse, 'evict: ReplicaSet web-5d8f'],
    ['a live DaemonSet pod is ignored', pod('a', { controller: agent }), refuse, 'ignored: DaemonSet'],
    [
      'a pod of a DaemonSet that is gone is refused as unmanaged',
      pod('a', { controller: { ...agent, uid: 'old-ds-uid' } }),
      refuse,
      "refused: its DaemonSet agent is gone or being deleted, nothing recreates it; set unmanagedPods: 'evict' to evict it",
    ],
    [
      '... and evicted when unmanaged pods may go',
      pod('a', { controller: { ...agent, uid: 'old-ds-uid' } }),
      evictAll,
      "evict: its DaemonSet agent is gone or being deleted, nothing recreates it (unmanagedPods: 'evict')",
    ],
    [
      'a DaemonSet of another API group is just a controller',
      pod('a', { controller: { ...agent, group: 'apps.kruise.io' } }),
      refuse,
      'evict: DaemonSet agent',
    ],
    [
      'a pod without a controller is refused',
      pod('a', { controller: undefined }),
      refuse,
      "refused: no controller recreates it; set unmanagedPods: 'evict' to evict it",
    ],
    ['... and evicted when unmanaged pods may go', pod('a', { controller: undefined }), evictAll, "evict: no controller recreates it (unmanagedPods: 'evict')"],
    [
      'a pod with emptyDir is refused',
      pod('a', { emptyDirVolumes: ['cache', 'shm'] }),
      refuse,
      "refused: emptyDir cache, shm loses its data; set emptyDirPods: 'evict' to evict it",
    ],
    [
      '... and evicted when emptyDir pods may go',
      pod('a', { emptyDirVolumes: ['cache'] }),
      evictAll,
      "evict: emptyDir cache loses its data (emptyDirPods: 'evict')",
    ],
    [
      'an unmanaged emptyDir pod is refused for what its policy still forbids',
      pod('a', { controller: undefined, emptyDirVolumes: ['cache'] }),
      { unmanagedPods: 'evict', emptyDirPods: 'refuse' },
      "refused: emptyDir cache loses its data; set emptyDirPods: 'evict' to evict it",
    ],
    [
      'a mirror pod is ignored',
      pod('a', { mirror: true, controller: { group: '', kind: 'Node', name: 'n1', uid: 'node-uid' } }),
      refuse,
      'ignored: mirror pod',
    ],
    ['a Succeeded pod is deleted', pod('a', { phase: 'Succeeded' }), refuse, 'delete: finished (Succeeded)'],
    [
      'a Failed unmanaged emptyDir pod is deleted whatever the policy',
      pod('a', { phase: 'Failed', controller: undefined, emptyDirVolumes: ['x'] }),
      refuse,
      'delete: finished (Failed)',
    ],
    ['a terminating pod is waited for', pod('a', { deleting: true }), refuse, 'deleting: already terminating'],
    ['a terminating unmanaged pod is waited for, not refused', pod('a', { deleting: true, controller: undefined }), refuse, 'deleting: already terminating'],
    ['a terminating DaemonSet pod is still ignored', pod('a', { controller: agent, deleting: true }), refuse, 'ignored: DaemonSet'],
    [
      'our skip label leaves any pod alone',
      pod('a', { labels: { 'cluster-ops.wcloud.sh/drain': 'skip' }, controller: undefined }),
      refuse,
      'ignored: label cluster-ops.wcloud.sh/drain=skip',
    ],
    [
      "Cluster API's skip label too",
      pod('a', { labels: { 'cluster.x-k8s.io/drain': 'skip' }, phase: 'Failed' }),
      refuse,
      'ignored: label cluster.x-k8s.io/drain=skip',
    ],
    ['a skip label with another value is no skip', pod('a', { labels: { 'cluster-ops.wcloud.sh/drain': 'true' } }), refuse, 'evict: ReplicaSet web-5d8f'],
  ] as const)('%s', (_, facts, policy, decision) => {
    expect(decide(facts, policy)).toEqual([decision]);
  });

  test('sorts every bucket so repeated passes print the same', () => {
    const plan = planDrain({
      pods: [
        pod('c'),
        pod('a'),
        pod('b', { deleting: true }),
        pod('z', { mirror: true }),
        pod('d', { controller: agent }),
        pod('f', { phase: 'Failed' }),
        pod('e', { phase: 'Succeeded' }),
        pod('y', { controller: undefined }),
        pod('x', { controller: undefined }),
      ],
      policy: refuse,
      liveDaemonSets,
    });
    expect(Object.fromEntries(DRAIN_BUCKETS.map((bucket) => [bucket, plan[bucket].map((p) => p.pod)]))).toEqual({
      evict: ['ns/a', 'ns/c'],
      delete: ['ns/e', 'ns/f'],
      deleting: ['ns/b'],
      refused: ['ns/x', 'ns/y'],
      ignored: ['ns/d', 'ns/z'],
    });
    expect(describePlan(plan)).toBe('2 to evict, 2 to delete, 1 terminating, 2 refused, 2 ignored');
    expect(describeRefusals(plan.refused).split('\n')).toEqual([
      "ns/x: no controller recreates it; set unmanagedPods: 'evict' to evict it",
      "ns/y: no controller recreates it; set unmanagedPods: 'evict' to evict it",
    ]);
  });
});

test('daemonSetControllers names each DaemonSet once, whatever its pods', () => {
  const pods = [
    pod('a', { controller: agent }),
    pod('b', { controller: agent }),
    pod('c', { namespace: 'kube-system', controller: { ...agent, name: 'cilium' } }),
    pod('d'),
    pod('e', { controller: undefined }),
  ];
  expect(daemonSetControllers(pods)).toEqual([
    { namespace: 'kube-system', name: 'cilium' },
    { namespace: 'ns', name: 'agent' },
  ]);
});

describe('summarizePass', () => {
  const plan = planDrain({
    pods: [pod('a'), pod('b'), pod('c'), pod('d'), pod('e', { deleting: true }), pod('f', { phase: 'Failed' })],
    policy: refuse,
    liveDaemonSets,
  });
  const pass = summarizePass('n1', plan, [
    { pod: 'ns/d', outcome: 'failed', message: 'HTTP 500: boom' },
    { pod: 'ns/b', outcome: 'blocked', reason: 'HTTP 429: budget' },
    { pod: 'ns/f', outcome: 'deleted' },
    { pod: 'ns/a', outcome: 'evicted' },
    { pod: 'ns/c', outcome: 'failed', message: 'HTTP 500: boom' },
  ]);

  test('groups failures by message and is not drained while pods remain', () => {
    expect(pass).toMatchObject({
      node: 'n1',
      drained: false,
      evicted: ['ns/a'],
      deleted: ['ns/f'],
      blocked: [{ pod: 'ns/b', reason: 'HTTP 429: budget' }],
      deleting: [{ pod: 'ns/e', reason: 'already terminating' }],
      refused: [],
      failed: [{ message: 'HTTP 500: boom', pods: ['ns/c', 'ns/d'] }],
    });
    expect(describePass(pass)).toBe('1 evicted, 1 deleted, 1 blocked, 1 terminating, 2 failed, 0 refused, 0 ignored');
  });

  test('names every pod still in the way', () => {
    expect(describeLeftovers(pass).split('\n')).toEqual(['ns/b: HTTP 429: budget', 'ns/c: HTTP 500: boom', 'ns/d: HTTP 500: boom', 'ns/e: still terminating']);
  });

  test('a node with only ignored pods is drained', () => {
    const done = summarizePass('n1', planDrain({ pods: [pod('x', { controller: agent })], policy: refuse, liveDaemonSets }), []);
    expect(done.drained).toBe(true);
    expect(describePass(done)).toBe('drained (1 ignored)');
  });

  test('a node with a refused pod is not drained', () => {
    const stuck = summarizePass('n1', planDrain({ pods: [pod('x', { controller: undefined })], policy: refuse, liveDaemonSets }), []);
    expect(stuck.drained).toBe(false);
    expect(describePass(stuck)).toBe('0 evicted, 0 deleted, 0 blocked, 0 terminating, 0 failed, 1 refused, 0 ignored');
  });
});
