import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import webpack from 'webpack';
import { createActivities } from '../../src/activities/index.js';
import { kubeClients, loadKubeConfig } from '../../src/activities/kube/clients.js';
import { droppedWorkflowSpans } from '../../src/tracing.js';
import { bundleOptions, workflowsPath } from '../../src/workflow-bundle.js';
import { testEnv } from '../helpers/env.js';
import { readHistoryFile } from '../helpers/histories.js';
import { uniqueName } from '../helpers/kube.js';

// A recorded drainNode run that drained its node and left uncordonAfter to its default, replayed on changed
// versions of drainNode.
const dir = 'test/fixtures/histories/drainNode';
const decode = (payload: { data?: Uint8Array | null } | undefined) => JSON.parse(Buffer.from(payload?.data ?? []).toString('utf8')) as Record<string, unknown>;
const recorded = readdirSync(dir)
  .map((file) => join(dir, file))
  .find((file) => {
    const events = readHistoryFile(readFileSync(file, 'utf8')).history.events ?? [];
    const input = decode(events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]);
    const result = events.at(-1)?.workflowExecutionCompletedEventAttributes?.result?.payloads?.[0];
    return result !== undefined && decode(result).outcome === 'drained' && input.uncordonAfter === undefined;
  })!;

const changed = (file: string) => new URL(`./changed/${file}`, import.meta.url).pathname;

async function replayOn(variant: 'guarded' | 'unguarded') {
  return replay(await bundleWorkflowCode({ workflowsPath: changed(`${variant}.ts`), ...bundleOptions }));
}

function replay({ code }: { code: string }) {
  const { workflowId, history } = readHistoryFile(readFileSync(recorded, 'utf8'));
  return Worker.runReplayHistory({ workflowBundle: { code }, sinks: droppedWorkflowSpans }, history, workflowId).then(
    () => 'replayed',
    (error: Error) => `${error.name}: ${error.message}`,
  );
}

test('a change guarded by patched() replays a history recorded before it; the same change unguarded does not', async () => {
  expect(recorded).toBeDefined();
  expect(await replayOn('guarded')).toBe('replayed');
  expect(await replayOn('unguarded')).toMatch(/^DeterminismViolationError: /);
}, 180_000);

test('a default changed after a run started does not change its replay: the run reads the input it parsed then', async () => {
  // The released workflows, but drainNode reads the changed schema.
  const bundle = await bundleWorkflowCode({
    workflowsPath: workflowsPath(),
    webpackConfigHook: (config) => {
      const released = bundleOptions.webpackConfigHook!(config);
      const swap = new webpack.NormalModuleReplacementPlugin(/^\.\.\/schemas\/drain-node\.js$/, changed('drain-node-schema.ts'));
      return { ...released, plugins: [...(released.plugins ?? []), swap] };
    },
  });
  expect(await replay(bundle)).toBe('replayed');
}, 180_000);

type Event = Record<string, unknown> & { eventId: number; eventType: string };

/**
 * The history as it is when the local activity recording the input ends its workflow task: under load the
 * task completes with the activity's marker before the workflow has run on from its result, and what the
 * workflow does next lands in the following task. (Seen on a loaded machine: the rolling-lock test's queries
 * then replayed into a nondeterminism error while the input check was patched in after the recording.)
 */
function taskEndedAfterInputRecording(history: temporal.api.history.v1.IHistory): temporal.api.history.v1.History {
  const { History } = temporal.api.history.v1;
  const events = (History.toObject(History.fromObject(history), { longs: Number, enums: String }) as { events: Event[] }).events;
  const at = events.findIndex((e) => (e.markerRecordedEventAttributes as { markerName?: string } | undefined)?.markerName === 'core_local_activity') + 1;
  // Every event id after the new task's three events moves up by three, wherever it is referred to.
  const shift = (value: unknown, key = ''): unknown => {
    if (key.endsWith('EventId') || key === 'eventId') return typeof value === 'number' && value > at ? value + 3 : value;
    if (Array.isArray(value)) return value.map((v) => shift(v));
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shift(v, k)]));
    return value;
  };
  const firstTask = events.find((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED')!;
  const task = [
    { eventType: 'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED', workflowTaskScheduledEventAttributes: firstTask.workflowTaskScheduledEventAttributes },
    { eventType: 'EVENT_TYPE_WORKFLOW_TASK_STARTED', workflowTaskStartedEventAttributes: { scheduledEventId: at + 1 } },
    { eventType: 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED', workflowTaskCompletedEventAttributes: { scheduledEventId: at + 1, startedEventId: at + 2 } },
  ].map((e, i) => ({ ...e, eventId: at + 1 + i, eventTime: events[at - 1]!.eventTime }));
  return History.fromObject({ events: [...events.slice(0, at), ...task, ...events.slice(at).map((e) => shift(e))] });
}

test('a run whose input recording ends its workflow task replays: its patches are decided before the recording', async () => {
  const connection = await NativeConnection.connect({ address: testEnv('temporalAddress') });
  const client = new Client({ connection: await Connection.connect({ address: testEnv('temporalAddress') }) });
  const taskQueue = uniqueName('input-recording');
  const activities = createActivities({ kube: kubeClients(loadKubeConfig(testEnv('kubeconfig'))) });
  const worker = await Worker.create({ connection, taskQueue, workflowBundle: { codePath: testEnv('bundle') }, activities, sinks: droppedWorkflowSpans });
  try {
    // A drain of a node that does not exist: recorded input, then the input check, which refuses it.
    const workflowId = uniqueName('drain-no-such-node');
    const history = await worker.runUntil(async () => {
      const handle = await client.workflow.start('drainNode', { taskQueue, workflowId, args: [{ node: uniqueName('no-such-node'), dryRun: true }] });
      await handle.result().catch(() => undefined);
      return handle.fetchHistory();
    });
    const replay = (h: temporal.api.history.v1.IHistory) =>
      Worker.runReplayHistory({ workflowBundle: { codePath: testEnv('bundle') }, sinks: droppedWorkflowSpans }, h, workflowId);
    await expect(replay(history)).resolves.toBeUndefined();
    await expect(replay(taskEndedAfterInputRecording(history))).resolves.toBeUndefined();
  } finally {
    await connection.close();
    await client.connection.close();
  }
}, 120_000);
