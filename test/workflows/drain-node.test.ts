import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { WorkflowHandle } from '@temporalio/client';
import type { Progress } from '../../src/schemas/progress.js';
import { drainNode } from '../../src/workflows/drain-node.js';
import type { DrainNodeResult } from '../../src/workflows/drain-node.js';
import { eventually, hookEvictions, TestCluster, uniqueName } from '../helpers/kube.js';
import { startWorkflow } from '../../src/client/client.js';
import { currentDetails, timeSkippingEnvironment, timelineSummaries, withWorker } from '../helpers/temporal.js';
import { FailureType } from '../../src/failures.js';

let env: TestWorkflowEnvironment;
let cluster: TestCluster;

beforeAll(async () => {
  [env, cluster] = await Promise.all([timeSkippingEnvironment(), TestCluster.create('wf-drain')]);
});
afterAll(async () => {
  await Promise.all([env?.teardown(), cluster?.close()]);
});

/** Runs a drain to its end; `drive` acts on the running workflow first. */
const run = (input: Parameters<typeof drainNode>[0], drive?: (handle: WorkflowHandle<typeof drainNode>) => Promise<void>) =>
  withWorker(env, { kube: cluster.kube }, async (taskQueue) => {
    const handle = await env.client.workflow.start(drainNode, { taskQueue, workflowId: uniqueName('drain'), args: [input] });
    await drive?.(handle);
    const outcome: { result?: DrainNodeResult; error?: unknown } = await handle.result().then(
      (result) => ({ result }),
      (error: unknown) => ({ error }),
    );
    // A run that failed on its input never registered the query.
    const progress = await handle.query<Progress>('progress').catch(() => undefined);
    return { ...outcome, progress: progress! };
  });

const unschedulable = async (name: string) => (await cluster.kube.core.readNode({ name })).spec?.unschedulable === true;

test('invalid input fails at once, naming the field, before touching the cluster', async () => {
  const { error } = await run({ node: 'Not_A_Node', timeoutSeconds: -1 } as never);
  expect(error).toBeInstanceOf(WorkflowFailedError);
  const cause = (error as WorkflowFailedError).cause as { type?: string; message: string; nonRetryable?: boolean };
  expect(cause.type).toBe(FailureType.InvalidInput);
  expect(cause.nonRetryable).toBe(true);
  expect(cause.message).toMatch(/input\.node: must be a lowercase RFC 1123 name/);
  expect(cause.message).toMatch(/input\.timeoutSeconds:/);
});

test('dry run reports the plan and leaves the node alone', async () => {
  const node = await cluster.addNode();
  await cluster.addPod(node, 'dry-1');
  const { result } = await run({ node, dryRun: true });
  expect(result).toMatchObject({ outcome: 'planned', plan: { evict: [{ pod: `${cluster.namespace}/dry-1`, reason: expect.stringMatching(/^ReplicaSet /) }] } });
  expect(await unschedulable(node)).toBe(false);
  expect(await cluster.podNames(node)).toEqual(['dry-1']);
});

test('drains everything but DaemonSet pods, then uncordons when asked', async () => {
  const node = await cluster.addNode();
  await cluster.addPod(node, 'app-1');
  await cluster.addPod(node, 'app-2');
  const daemonPod = await cluster.addDaemonSet(node, 'agent');
  const { result, progress } = await run({ node, uncordonAfter: true });
  expect(result).toMatchObject({ outcome: 'drained', cordonedByOthers: false, uncordoned: true });
  expect(result!.lastPass!.ignored).toEqual([{ pod: `${cluster.namespace}/${daemonPod}`, reason: 'DaemonSet' }]);
  expect(await cluster.podNames(node)).toEqual([daemonPod]);
  expect(await unschedulable(node)).toBe(false);
  expect(progress.steps.map((s) => [s.name, s.phase])).toEqual([
    ['plan', 'done'],
    ['cordon', 'done'],
    ['drain', 'done'],
    ['uncordon', 'done'],
  ]);
});

test('a PodDisruptionBudget that never allows eviction times the drain out; the node stays cordoned', async () => {
  const node = await cluster.addNode();
  await cluster.addPod(node, 'guarded', { app: 'guarded' });
  await cluster.addBlockingPdb('guarded');

  const { error, progress } = await run({ node, timeoutSeconds: 120, uncordonAfter: true });
  const cause = (error as WorkflowFailedError).cause as { type?: string; message: string };
  expect(cause.type).toBe(FailureType.DrainTimedOut);
  expect(cause.message).toContain(`${cluster.namespace}/guarded: HTTP 429`);
  expect(await unschedulable(node)).toBe(true);
  expect(await cluster.podNames(node)).toEqual(['guarded']);
  expect(progress.phase).toBe('timed-out');
  expect(progress.steps.find((s) => s.name === 'drain')?.phase).toBe('failed');
});

const failureOf = (error: unknown) => (error as WorkflowFailedError).cause as { type?: string; message: string };

test("started the CLI's way, a run shows in the Temporal UI its summary, its plan, where it is, and each step as the runbook says it", async () => {
  const node = await cluster.addNode();
  await cluster.addPod(node, 'ui-app');
  await cluster.addPod(node, 'ui-guarded', { app: 'ui-guarded' });
  await cluster.addBlockingPdb('ui-guarded');

  const { description, details, timeline, error } = await withWorker(env, { kube: cluster.kube }, async (taskQueue) => {
    const handle = await startWorkflow(env.client, taskQueue, 'drainNode', { node, timeoutSeconds: 7, uncordonAfter: true }, uniqueName('drain-ui'));
    const error = await handle.result().catch((e: unknown) => e);
    return { description: await handle.describe(), details: await currentDetails(handle), timeline: await timelineSummaries(handle), error };
  });
  expect(failureOf(error).type).toBe(FailureType.DrainTimedOut);
  expect(await description.staticSummary()).toBe(`drain ${node}`);
  const plan = await description.staticDetails();
  expect(plan).toMatch(new RegExp(`^\\*\\*Drain ${node}\\*\\*\\n\\n1\\. plan: `));
  expect(plan).toContain(`2. cordon ${node}`);
  expect(plan).toContain('PDBs respected, timeout 7s');
  expect(plan).toContain('4. uncordon once drained, only if this run cordoned it');
  // The run's last current details: where it stopped, and each step's outcome.
  expect(details).toMatch(/^\*\*now:\*\* timed-out\n\n- plan: done — /);
  expect(details).toContain('- cordon: done — cordoned');
  expect(details).toMatch(/- drain: failed — \d+ evicted, \d+ deleted, 1 blocked/);
  // Passes 1 s, 2 s, then 5 s apart until the 7 s deadline (0 s, 1 s, 3 s, 7 s), each named; the waits between them too.
  expect(timeline.activities).toEqual([
    'check that 1 input target(s) exist',
    `plan the drain of ${node}`,
    `cordon ${node}`,
    ...[1, 2, 3, 4].map((pass) => `drain ${node} (pass ${pass})`),
  ]);
  expect(timeline.timers).toEqual([2, 3, 4].map((pass) => `wait before drain pass ${pass} of ${node}`));
});

test('a pod the policy refuses fails the drain before the cordon, naming the pod and the field to change', async () => {
  const node = await cluster.addNode();
  await cluster.addPod(node, 'bare', {}, { controller: 'none' });
  const finished = await cluster.addFinishedJob(node, 'report');
  const refused = await run({ node });
  expect(failureOf(refused.error)).toMatchObject({
    type: FailureType.DrainRefused,
    message: expect.stringContaining(
      `nothing was changed. The pod policy keeps:\n${cluster.namespace}/bare: no controller recreates it; set unmanagedPods: 'evict' to evict it`,
    ),
  });
  expect(await unschedulable(node)).toBe(false);
  expect(await cluster.podNames(node)).toEqual(['bare', finished].sort());
  expect(refused.progress.phase).toBe('refused');
  expect(refused.progress.steps.find((s) => s.name === 'plan')?.phase).toBe('failed');

  const { result } = await run({ node, unmanagedPods: 'evict' });
  expect(result).toMatchObject({ outcome: 'drained', lastPass: { drained: true } });
  expect(await cluster.podNames(node)).toEqual([]);
});

test('a refused pod that turns up during the drain stops it; the node stays cordoned', async () => {
  const node = await cluster.addNode();
  await cluster.addPod(node, 'held', { app: 'held' });
  await cluster.addBlockingPdb('held');
  const { error, progress } = await run({ node }, async (handle) => {
    await eventually(async () => (await handle.query<Progress>('progress')).steps.find((s) => s.name === 'drain')?.phase === 'running', 'first drain pass');
    await cluster.addPod(node, 'late', {}, { volumes: [{ name: 'scratch', emptyDir: {} }] });
  });
  expect(failureOf(error)).toMatchObject({
    type: FailureType.DrainRefused,
    message: expect.stringContaining(
      `node left cordoned. The pod policy keeps:\n${cluster.namespace}/late: emptyDir scratch loses its data; set emptyDirPods: 'evict'`,
    ),
  });
  expect(await unschedulable(node)).toBe(true);
  expect(progress.steps.find((s) => s.name === 'drain')?.phase).toBe('failed');
});

test('a drain cancelled mid-pass evicts nothing more, and the run ends only after its pass has stopped', async () => {
  const node = await cluster.addNode();
  for (const pod of ['mid-1', 'mid-2', 'mid-3']) await cluster.addPod(node, pod);
  const evicting: string[] = [];
  // The first eviction is slow: it returns once the run's cancellation has reached the pass, or after 20 s.
  const kube = hookEvictions(cluster.kube, async (pod) => {
    evicting.push(pod);
    const { cancellationSignal } = Context.current();
    if (evicting.length === 1 && !cancellationSignal.aborted) await Promise.race([once(cancellationSignal, 'abort'), delay(20_000)]);
  });
  const { error, history } = await withWorker(env, { kube }, async (taskQueue) => {
    const handle = await env.client.workflow.start(drainNode, { taskQueue, workflowId: uniqueName('drain'), args: [{ node }] });
    await eventually(async () => evicting.length > 0, 'the first eviction');
    await handle.cancel();
    const error = await handle.result().catch((e: unknown) => e);
    return { error, history: await handle.fetchHistory() };
  });

  expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  expect(evicting).toEqual([`${cluster.namespace}/mid-1`]);
  expect(await cluster.podNames(node)).toEqual(expect.arrayContaining(['mid-2', 'mid-3']));
  expect(await unschedulable(node)).toBe(true);
  // The pass reported itself cancelled before the run ended: nothing of this run goes on after it.
  const { EventType } = temporal.api.enums.v1;
  const position = (type: number) => history.events!.findIndex((event) => event.eventType === type);
  expect(position(EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED)).toBeGreaterThan(0);
  expect(position(EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED)).toBeLessThan(position(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED));
});
