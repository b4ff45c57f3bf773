// Benchmark: reaction time, from a node's Ready condition turning True in the API server to the workflow's
// next step starting. maintenanceNode (the built bundle, a worker in this process, a real Temporal dev server,
// a real control plane) holds a node, the node goes NotReady, the operator's `done` comes, and the verify
// step waits for Ready by watch; the bench then sets Ready=True and reads, from the run's history, when the
// next activity (the same-node check) started. The clock starts as the status write is sent, so the figure
// includes the write itself. One node per sample, without KWOK, so nothing but the bench moves its status.
// Prints p50 and p99 over 100 changes against the goal (p99 < 1 s). Asserts nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { CoreV1Api } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import protos from '@temporalio/proto';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { installInfra } from '../lab/infra/paths.js';
import { startControlPlane } from '../lab/kube/control-plane.js';
import { startTemporalDevServer } from '../lab/temporal.js';
import { kubeClients, loadKubeConfig } from '../src/activities/kube/clients.js';
import type { Progress } from '../src/schemas/progress.js';
import { builtBundleWorker } from './built-worker.js';

const SAMPLES = 100;
const GOAL_P99_MS = 1_000;
const proto = protos.temporal;
const { EventType, PendingActivityState } = proto.api.enums.v1;

/** The Ready condition alone (a strategic merge on `type`): the node controller writes the node's taints meanwhile. */
async function setReady(core: CoreV1Api, name: string, ready: boolean) {
  const now = new Date();
  const condition = { type: 'Ready', status: ready ? 'True' : 'False', reason: 'Bench', lastHeartbeatTime: now, lastTransitionTime: now };
  await core.patchNodeStatus({ name, body: { status: { conditions: [condition] } } }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch));
}

async function until<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await delay(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const eventMs = (event: protos.temporal.api.history.v1.IHistoryEvent) =>
  Number(event.eventTime!.seconds) * 1000 + Math.floor((event.eventTime!.nanos ?? 0) / 1e6);

/** When the first activity scheduled after the Ready wait completed started (server clock, this host). */
async function nextStepStartedMs(handle: WorkflowHandle): Promise<number> {
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = new Map(events.filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED).map((e) => [Number(e.eventId), e]));
  const waitId = [...scheduled.values()]
    .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'waitForNode')
    .map((e) => Number(e.eventId))
    .at(-1)!;
  const next = events.find(
    (e) =>
      e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED &&
      Number(e.activityTaskStartedEventAttributes!.scheduledEventId) > waitId &&
      scheduled.has(Number(e.activityTaskStartedEventAttributes!.scheduledEventId)),
  );
  if (!next) throw new Error('no activity started after the Ready wait');
  return eventMs(next);
}

async function sample(client: Client, core: CoreV1Api, taskQueue: string, i: number): Promise<number> {
  const name = `bench-react-${i}-${Date.now().toString(36)}`;
  await core.createNode({ body: { metadata: { name, labels: { 'kubernetes.io/hostname': name } } } });
  try {
    await setReady(core, name, true);
    const handle = await client.workflow.start('maintenanceNode', {
      taskQueue,
      workflowId: name,
      args: [{ node: name, reason: 'reaction bench', until: 'done-signal' }],
    });
    await until(
      async () => ((await handle.query<Progress>('progress')).steps.some((s) => s.name === 'maintenance' && s.phase === 'running') ? true : undefined),
      'hold',
    );
    await setReady(core, name, false);
    await handle.signal('endMaintenance');
    await until(async () => {
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      return pending.some((a) => a.activityType?.name === 'waitForNode' && a.state === PendingActivityState.PENDING_ACTIVITY_STATE_STARTED) ? true : undefined;
    }, 'the verify step’s Ready wait');
    // The activity lists, then opens its watch: give it that moment, so the sample is the watch's reaction.
    await delay(300);
    const changedAt = Date.now();
    await setReady(core, name, true);
    await handle.result();
    return (await nextStepStartedMs(handle)) - changedAt;
  } finally {
    await core.deleteNode({ name }).catch(() => undefined);
  }
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const infra = await installInfra();
  const dir = mkdtempSync(join(tmpdir(), 'bench-react-'));
  const temporal = await startTemporalDevServer(join(dir, 'temporal'), infra, { headless: true });
  const controlPlane = await startControlPlane(join(dir, 'kube'), infra);
  const kube = kubeClients(loadKubeConfig(controlPlane.kubeconfig));
  const connection = await NativeConnection.connect({ address: temporal.address });
  const client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
  const taskQueue = `bench-react-${Date.now()}`;
  const worker = await builtBundleWorker(connection, taskQueue, kube);
  try {
    const reactions = await worker.runUntil(async () => {
      const measured: number[] = [];
      for (let i = 1; i <= SAMPLES; i++) measured.push(await sample(client, kube.core, taskQueue, i));
      return measured;
    });
    const sorted = [...reactions].sort((a, b) => a - b);
    const [p50, p99] = [percentile(sorted, 50), percentile(sorted, 99)];
    console.log(`node Ready → next step started, ${SAMPLES} changes: min ${sorted[0]} ms, p50 ${p50} ms, p99 ${p99} ms, max ${sorted.at(-1)} ms`);
    console.log(`p99 = ${(p99 / GOAL_P99_MS).toFixed(2)} × the 1 s goal`);
  } finally {
    await client.connection.close();
    await connection.close();
    await controlPlane.stop();
    await temporal.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
