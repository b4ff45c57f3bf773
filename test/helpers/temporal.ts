import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Client, Connection, ScheduleNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { MockActivityEnvironment, TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection } from '@temporalio/worker';
import type { MockActivityEnvironmentOptions } from '@temporalio/testing';
import type { ActivityDeps } from '../../src/activities/index.js';
import { RECORDING_INPUT } from '../../src/schemas/progress.js';
import type { Progress } from '../../src/schemas/progress.js';
import { createWorker } from '../../src/worker.js';
import { TEST_LEASE_NAMESPACE, testEnv } from './env.js';
import { recordRuns } from './histories.js';
import { eventually } from './kube.js';

/** The time-skipping test server from our pinned install (never the SDK's own download). */
export async function timeSkippingEnvironment(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: testEnv('testServer') } },
  });
  // Our workflows set these; the lab's dev server registers them at start, this server on request.
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: {
      ClusterOpsOperation: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
      ClusterOpsNodes: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
    },
  });
  return env;
}

/** Runs `body` while a real worker (all workflows, activities on `deps`) serves a fresh task queue. */
export async function withWorker<T>(env: TestWorkflowEnvironment, deps: ActivityDeps, body: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = `test-${randomBytes(4).toString('hex')}`;
  const worker = await createWorker({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    deps: { leaseNamespace: TEST_LEASE_NAMESPACE, ...deps },
    workflowBundlePath: testEnv('bundle'),
  });
  const recorder = recordRuns(env.client);
  try {
    return await worker.runUntil(body(taskQueue));
  } finally {
    await recorder.save();
  }
}

/**
 * Calls an activity function inside a real activity context (heartbeats, cancellation) without a worker;
 * whatever the activity talks to is real. Activities that use the worker's Temporal client need `client`.
 */
export function activityRunner(options?: Pick<MockActivityEnvironmentOptions, 'client'>) {
  const env = new MockActivityEnvironment(undefined, options);
  return <F extends (...args: never[]) => Promise<unknown>>(fn: F, ...args: Parameters<F>): ReturnType<F> => env.run(fn, ...args) as ReturnType<F>;
}

/**
 * The built worker (dist/) as production runs it, against the shared dev server and control plane; `entry`
 * is another script that runs it (the kill sweep's test/helpers/sweep-worker.js).
 */
export function spawnBuiltWorker(taskQueue: string, extraEnv: Record<string, string> = {}, entry = 'dist/src/worker.js'): ChildProcess {
  return spawn(process.execPath, [entry], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      PATH: process.env.PATH,
      TEMPORAL_ADDRESS: testEnv('temporalAddress'),
      TASK_QUEUE: taskQueue,
      KUBECONFIG: testEnv('kubeconfig'),
      WORKFLOW_BUNDLE: 'dist/workflow-bundle.js',
      METRICS_ADDRESS: '127.0.0.1:0',
      LEASE_NAMESPACE: TEST_LEASE_NAMESPACE,
      ...extraEnv,
    },
  });
}

/**
 * Sends an operator command as an Update and returns the rejection's message: fails the test if the run
 * accepted it. The rejection never reaches the run's history, so the run is untouched.
 */
export async function rejectionOf(handle: WorkflowHandle, command: string, ...args: unknown[]): Promise<string> {
  const answer = await (args.length ? handle.executeUpdate<string, [unknown]>(command, { args: [args[0]] }) : handle.executeUpdate<string, []>(command)).then(
    (value) => `accepted: ${value}`,
    (error: unknown) => (error instanceof WorkflowUpdateFailedError ? `rejected: ${(error.cause as Error | undefined)?.message}` : `failed: ${String(error)}`),
  );
  if (!answer.startsWith('rejected: ')) throw new Error(`${command} was expected to be rejected, got ${answer}`);
  return answer.slice('rejected: '.length);
}

/**
 * Waits until the run has recorded its input and set up its commands: an Update sent earlier finds no
 * handler yet (signals wait for theirs).
 */
export async function commandsReady(handle: WorkflowHandle): Promise<void> {
  await eventually(async () => (await handle.query<Progress>('progress')).phase !== RECORDING_INPUT, 'the run to set up its commands');
}

/** Whether any workflow task of the run failed (a handler that threw, nondeterminism): none should. */
export async function workflowTaskFailures(handle: WorkflowHandle): Promise<number> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes).length;
}

/** Whether the server has a Schedule of that id. */
export const scheduleExists = (client: Client, id: string): Promise<boolean> =>
  client.schedule
    .getHandle(id)
    .describe()
    .then(
      () => true,
      (error: unknown) => {
        if (error instanceof ScheduleNotFoundError) return false;
        throw error;
      },
    );

/**
 * A worker (all workflows, activities on `deps`) on the shared dev server, in real time, and a client for it:
 * for runs that idle on an operator, which the time-skipping server would time out.
 */
export async function devServerWorker(taskQueue: string, deps: ActivityDeps): Promise<{ client: Client; stop: () => Promise<void> }> {
  const address = testEnv('temporalAddress');
  const client = new Client({ connection: await Connection.connect({ address }) });
  const connection = await NativeConnection.connect({ address });
  const worker = await createWorker({
    connection,
    namespace: 'default',
    taskQueue,
    deps: { leaseNamespace: TEST_LEASE_NAMESPACE, ...deps },
    workflowBundlePath: testEnv('bundle'),
  });
  const running = worker.run();
  const recorder = recordRuns(client);
  return {
    client,
    stop: async () => {
      await recorder.save();
      worker.shutdown();
      await running;
      await connection.close();
      await client.connection.close();
    },
  };
}

/** What the Temporal UI shows as a run's current details (the workflow metadata query the UI sends). */
export async function currentDetails(handle: WorkflowHandle): Promise<string> {
  const metadata = await handle.query<temporal.api.sdk.v1.IWorkflowMetadata>('__temporal_workflow_metadata');
  return metadata.currentDetails ?? '';
}

/** The summaries the run's timeline shows, in history order: each activity's and each timer's. */
export async function timelineSummaries(handle: WorkflowHandle): Promise<{ activities: string[]; timers: string[] }> {
  const events = (await handle.fetchHistory()).events ?? [];
  const summaryOf = (event: temporal.api.history.v1.IHistoryEvent) =>
    event.userMetadata?.summary ? defaultPayloadConverter.fromPayload<string>(event.userMetadata.summary) : '(none)';
  return {
    activities: events.filter((e) => e.activityTaskScheduledEventAttributes).map(summaryOf),
    timers: events.filter((e) => e.timerStartedEventAttributes).map(summaryOf),
  };
}
