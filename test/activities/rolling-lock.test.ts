import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import { OPERATION_ANNOTATION, RUN_ID_ANNOTATION, rollingLeaseName } from '../../src/activities/kube/lease.js';
import { FailureType } from '../../src/failures.js';
import type { AcquireRollingLockResult } from '../../src/activities/kube/lease.js';
import { testEnv } from '../helpers/env.js';
import { clusterForActivities, uniqueName } from '../helpers/kube.js';
import { activityRunner } from '../helpers/temporal.js';

const k8s = clusterForActivities('rolling-lock');
let connection: Connection;
let client: Client;
let run: ReturnType<typeof activityRunner>;
const started: WorkflowHandle[] = [];

beforeAll(async () => {
  connection = await Connection.connect({ address: testEnv('temporalAddress') });
  client = new Client({ connection });
  run = activityRunner({ client });
});
afterAll(async () => {
  await Promise.allSettled(started.map((handle) => handle.terminate('test over')));
  await connection?.close();
});

interface Contender {
  holder: string;
  runId: string;
  stop(): Promise<unknown>;
}

/**
 * A real run in progress on the dev server, to hold the lock: started on a task queue no worker polls, it
 * stays Running (Temporal needs no workflow code for that) until stop() terminates it.
 */
async function runningContender(): Promise<Contender> {
  const handle = await client.workflow.start('rollingLockHolder', {
    taskQueue: uniqueName('no-worker'),
    workflowId: uniqueName('rolling-op'),
    workflowExecutionTimeout: '10 minutes',
  });
  started.push(handle);
  return { holder: handle.workflowId, runId: handle.firstExecutionRunId, stop: () => handle.terminate('holder crashed') };
}

const acquire = (cluster: string, { holder, runId }: Contender, operation = 'nodeMaintenance') =>
  run(k8s.activities.acquireRollingLock, { cluster, holder, runId, operation });
const release = (cluster: string, { holder, runId }: Contender) => run(k8s.activities.releaseRollingLock, { cluster, holder, runId });
const readLease = (cluster: string) => k8s.cluster.kube.coordination.readNamespacedLease({ name: rollingLeaseName(cluster), namespace: k8s.cluster.namespace });
const busyNaming = (holder: string) => ({ type: FailureType.ClusterBusy, nonRetryable: true, message: expect.stringContaining(holder) });

/** Of settled acquires, the one that won, after checking every other one failed ClusterBusy naming it. */
function soleWinner(contenders: Contender[], outcomes: PromiseSettledResult<AcquireRollingLockResult>[]): Contender {
  const won = contenders.filter((_, i) => outcomes[i]!.status === 'fulfilled');
  expect(won).toHaveLength(1);
  const losses = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  for (const loss of losses) expect(loss.reason).toMatchObject(busyNaming(won[0]!.holder));
  return won[0]!;
}

test('the Lease name is the cluster made a Kubernetes name', () => {
  expect(rollingLeaseName('willingham-k8s')).toBe('cluster-ops-rolling-willingham-k8s');
  expect(rollingLeaseName('Lab_Cluster.01')).toBe('cluster-ops-rolling-lab-cluster-01');
  expect(rollingLeaseName(`a${'.b'.repeat(200)}`)).toMatch(/^cluster-ops-rolling-a(-b)+$/);
  expect(rollingLeaseName(`a${'.b'.repeat(200)}`).length).toBeLessThanOrEqual(253);
});

test('a run takes the lock and takes it again when retried; another run finds the cluster busy until the holder releases it', async () => {
  const cluster = uniqueName('cluster');
  const [first, second] = [await runningContender(), await runningContender()];
  const lease = `${k8s.cluster.namespace}/${rollingLeaseName(cluster)}`;

  expect(await acquire(cluster, first, 'sriovRollout')).toEqual({ acquired: true, lease });
  const held = await readLease(cluster);
  expect(held.spec).toMatchObject({ holderIdentity: first.holder, acquireTime: expect.anything() });
  expect(held.metadata!.annotations).toMatchObject({ [RUN_ID_ANNOTATION]: first.runId, [OPERATION_ANNOTATION]: 'sriovRollout' });
  expect(await acquire(cluster, first, 'sriovRollout')).toEqual({ acquired: true, lease });
  expect((await readLease(cluster)).metadata!.resourceVersion).toBe(held.metadata!.resourceVersion);

  await expect(acquire(cluster, second)).rejects.toMatchObject(busyNaming(first.holder));
  await expect(acquire(cluster, second)).rejects.toMatchObject({ message: expect.stringContaining('sriovRollout') });
  // Same workflow id, another run: not the holder either.
  expect(await release(cluster, second)).toEqual({ released: false });
  expect(await release(cluster, { ...first, runId: second.runId })).toEqual({ released: false });
  expect((await readLease(cluster)).spec!.holderIdentity).toBe(first.holder);

  expect(await release(cluster, first)).toEqual({ released: true });
  const freed = await readLease(cluster);
  expect(freed.spec!.holderIdentity).toBeUndefined();
  expect(Object.keys(freed.metadata!.annotations ?? {})).not.toContain(RUN_ID_ANNOTATION);
  expect(await release(cluster, first)).toEqual({ released: false });
  expect(await acquire(cluster, second)).toEqual({ acquired: true, lease });
  expect((await readLease(cluster)).spec).toMatchObject({ holderIdentity: second.holder, leaseTransitions: 1 });
});

test('of ten runs acquiring at once, exactly one holds the lock and nine are told its workflow id', async () => {
  const cluster = uniqueName('cluster');
  const contenders = await Promise.all(Array.from({ length: 10 }, runningContender));
  const outcomes = await Promise.allSettled(contenders.map((contender) => acquire(cluster, contender)));
  const winner = soleWinner(contenders, outcomes);
  expect((await readLease(cluster)).spec!.holderIdentity).toBe(winner.holder);
});

test('the lock of a run that is no longer in progress is taken over', async () => {
  const cluster = uniqueName('cluster');
  const [crashed, next] = [await runningContender(), await runningContender()];
  await acquire(cluster, crashed);
  await crashed.stop();
  expect(await acquire(cluster, next)).toMatchObject({ acquired: true, tookOverFrom: crashed.holder });
  expect((await readLease(cluster)).metadata!.annotations).toMatchObject({ [RUN_ID_ANNOTATION]: next.runId });
  // A holder Temporal never heard of (a run past retention, or a hand-written Lease) holds nothing either.
  await next.stop();
  const unknown = { holder: uniqueName('never-started'), runId: randomUUID(), stop: async () => undefined };
  await acquire(cluster, unknown);
  const after = await runningContender();
  expect(await acquire(cluster, after)).toMatchObject({ acquired: true, tookOverFrom: unknown.holder });
});

test('two runs racing to take over a stale lock: exactly one wins', async () => {
  const cluster = uniqueName('cluster');
  const crashed = await runningContender();
  await acquire(cluster, crashed);
  await crashed.stop();
  const contenders = [await runningContender(), await runningContender()];
  const outcomes = await Promise.allSettled(contenders.map((contender) => acquire(cluster, contender)));
  const winner = soleWinner(contenders, outcomes);
  expect((await readLease(cluster)).spec).toMatchObject({ holderIdentity: winner.holder, leaseTransitions: 1 });
});
