import { describeLeftovers, describePass, planDrain, summarizePass } from '../../src/domain/drain.js';
import type { PodFacts } from '../../src/domain/drain.js';

const pod = (name: string, extra: Partial<PodFacts> = {}): PodFacts => ({
  namespace: 'ns',
  name,
  ownerKinds: [],
  mirror: false,
  deleting: false,
  ...extra,
});

describe('planDrain', () => {
  test.each([
    ['a plain pod is evicted', pod('a'), 'evict'],
    ['a ReplicaSet pod is evicted', pod('a', { ownerKinds: ['ReplicaSet'] }), 'evict'],
    ['a DaemonSet pod is ignored', pod('a', { ownerKinds: ['DaemonSet'] }), 'ignored'],
    ['a mirror pod is ignored', pod('a', { mirror: true }), 'ignored'],
    ['a terminating pod is waited for', pod('a', { deleting: true }), 'deleting'],
    ['a terminating DaemonSet pod is still ignored', pod('a', { ownerKinds: ['DaemonSet'], deleting: true }), 'ignored'],
  ] as const)('%s', (_, facts, bucket) => {
    const plan = planDrain([facts]);
    expect(Object.entries(plan).filter(([, pods]) => pods.length > 0).map(([name]) => name)).toEqual([bucket]);
  });

  test('sorts every bucket so repeated passes print the same', () => {
    const plan = planDrain([pod('c'), pod('a'), pod('b', { deleting: true }), pod('z', { mirror: true }), pod('d', { ownerKinds: ['DaemonSet'] })]);
    expect(plan).toEqual({
      evict: ['ns/a', 'ns/c'],
      deleting: ['ns/b'],
      ignored: [
        { pod: 'ns/d', reason: 'DaemonSet' },
        { pod: 'ns/z', reason: 'mirror pod' },
      ],
    });
  });
});

describe('summarizePass', () => {
  const plan = planDrain([pod('a'), pod('b'), pod('c'), pod('d'), pod('e', { deleting: true })]);
  const pass = summarizePass('n1', plan, [
    { pod: 'ns/d', outcome: 'failed', message: 'HTTP 500: boom' },
    { pod: 'ns/b', outcome: 'blocked', reason: 'HTTP 429: budget' },
    { pod: 'ns/a', outcome: 'evicted' },
    { pod: 'ns/c', outcome: 'failed', message: 'HTTP 500: boom' },
  ]);

  test('groups failures by message and is not drained while pods remain', () => {
    expect(pass).toMatchObject({
      node: 'n1',
      drained: false,
      evicted: ['ns/a'],
      blocked: [{ pod: 'ns/b', reason: 'HTTP 429: budget' }],
      deleting: ['ns/e'],
      failed: [{ message: 'HTTP 500: boom', pods: ['ns/c', 'ns/d'] }],
    });
    expect(describePass(pass)).toBe('1 evicted, 1 blocked, 1 terminating, 2 failed, 0 ignored');
  });

  test('names every pod still in the way', () => {
    expect(describeLeftovers(pass).split('\n')).toEqual([
      'ns/b: HTTP 429: budget',
      'ns/c: HTTP 500: boom',
      'ns/d: HTTP 500: boom',
      'ns/e: still terminating',
    ]);
  });

  test('a node with only ignored pods is drained', () => {
    const done = summarizePass('n1', planDrain([pod('x', { ownerKinds: ['DaemonSet'] })]), []);
    expect(done.drained).toBe(true);
    expect(describePass(done)).toBe('drained (1 ignored)');
  });
});
