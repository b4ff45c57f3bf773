import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { makeInformer } from '@kubernetes/client-node';
import type { V1Node } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { Payload } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { installInfra } from '../../lab/infra/paths.js';
import type { InfraPaths } from '../../lab/infra/paths.js';
import { startControlPlane } from '../../lab/kube/control-plane.js';
import type { ControlPlane } from '../../lab/kube/control-plane.js';
import { setNodeNotReady } from '../../lab/kube/nodes.js';
import { freePort } from '../../lab/process.js';
import { startTemporalDevServer } from '../../lab/temporal.js';
import type { TemporalDevServer } from '../../lab/temporal.js';
import type { DrainPassResult } from '../../src/domain/drain.js';
import { nodeMaintenanceId } from '../../src/schemas/node-maintenance.js';
import type { NodeMaintenanceInput } from '../../src/schemas/node-maintenance.js';
import type { Progress } from '../../src/schemas/progress.js';
import type { nodeMaintenance } from '../../src/workflows/node-maintenance.js';
import { testEnv } from '../helpers/env.js';
import { runTreeHistories } from '../helpers/histories.js';
import { eventually, TestCluster, uniqueName } from '../helpers/kube.js';
import { spawnBuiltWorker } from '../helpers/temporal.js';

// A server a run depends on restarts in the middle of the run: the Temporal dev server (its SQLite state
// on disk) during a drain, kube-apiserver (etcd keeps the objects) during a watch. Each run is a
// nodeMaintenance served by the built worker, and each must complete with no step done twice. These tests
// start and restart their own servers: the shared ones serve the other test files meanwhile.

const RESTART_TESTS = 2;
/** How long the Temporal dev server stays down: longer than the drain's pause between passes (5 s). */
const TEMPORAL_DOWN_MS = 6_000;
const REASON = 'Talos upgrade';
/** The activities that change the cluster; each must run once per node (the lock once per run). */
const WRITES = ['acquireRollingLock', 'cordonNode', 'uncordonNode', 'releaseRollingLock'];

let infra: InfraPaths;
let passed = 0;

beforeAll(async () => {
  infra = await installInfra();
}, 120_000);
afterAll(() => {
  process.stdout.write(`restart tests passed: ${passed}/${RESTART_TESTS}\n`);
});

describe('the Temporal dev server restarts in the middle of a drain', () => {
  let dir: string;
  let temporalServer: TemporalDevServer;
  let cluster: TestCluster;
  let client: Client;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'restarts-temporal-'));
    [temporalServer, cluster] = await Promise.all([
      startTemporalDevServer(dir, infra, { headless: true, port: await freePort() }),
      TestCluster.create('restart-temporal'),
    ]);
    client = new Client({ connection: await Connection.connect({ address: temporalServer.address }) });
  }, 120_000);
  afterAll(async () => {
    await client?.connection.close();
    await temporalServer?.stop();
    await cluster?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the rollout completes: each node cordoned and uncordoned once, the blocked pod evicted once, no activity retried', async () => {
    const nodes = [await cluster.addNode(), await cluster.addNode()];
    const [first, second] = nodes as [string, string];
    // A pod its PodDisruptionBudget keeps on the first node: that drain passes and pauses until the budget goes.
    await cluster.addPod(first, 'trainer', { app: 'trainer' });
    await cluster.addBlockingPdb('trainer');
    const cordons = watchCordons(cluster, nodes);
    await cordons.started;

    const worker = startWorker({ TEMPORAL_ADDRESS: temporalServer.address });
    const input = maintenanceInput(nodes, { until: 'duration', durationSeconds: 1 });
    try {
      const handle = await client.workflow.start<typeof nodeMaintenance>('nodeMaintenance', {
        taskQueue: worker.taskQueue,
        workflowId: nodeMaintenanceId(input.cluster),
        args: [input],
      });
      const drainId = `${handle.workflowId}/${first}/drain`;
      // Stopped while the drain sleeps on its durable timer between passes: no activity is in flight, so
      // whatever happens after comes from the server's state on disk.
      await eventually(
        async () => {
          const events =
            (
              await client.workflow
                .getHandle(drainId)
                .fetchHistory()
                .catch(() => undefined)
            )?.events ?? [];
          const blocked = activityRuns([{ workflowId: drainId, history: { events } }]).some(
            (run) => run.type === 'drainPass' && (run.result as DrainPassResult | undefined)?.blocked.length,
          );
          return blocked && events.at(-1)?.timerStartedEventAttributes;
        },
        `the drain of ${first} paused between passes, its pod blocked by the budget`,
        90_000,
      );
      await temporalServer.stop();
      await delay(TEMPORAL_DOWN_MS);
      temporalServer = await startTemporalDevServer(dir, infra, { headless: true, port: portOf(temporalServer.address) });
      expect(await cluster.podNames(first)).toContain('trainer');
      await cluster.kube.policy.deleteNamespacedPodDisruptionBudget({ name: 'trainer', namespace: cluster.namespace });

      const result = await worker.whileAlive(handle.result());
      expect(result.outcome).toBe('completed');
      expect(result.nodes.map((n) => [n.node, n.status, n.leftCordoned])).toEqual(nodes.map((n) => [n, 'maintained', false]));

      const runs = await runTreeHistories(client, handle.workflowId);
      expectNoStepTwice(runs, nodes);
      const passes = activityRuns(runs)
        .filter((run) => run.type === 'drainPass')
        .map((run) => run.result as DrainPassResult);
      expect(passes.filter((pass) => pass.node === first && pass.blocked.length > 0).length).toBeGreaterThan(0);
      expect(passes.flatMap((pass) => pass.evicted)).toEqual([`${cluster.namespace}/trainer`]);
    } finally {
      await worker.stop();
      await cordons.stop();
    }
    expect(Object.fromEntries(cordons.counts)).toEqual({
      [first]: { cordoned: 1, uncordoned: 1 },
      [second]: { cordoned: 1, uncordoned: 1 },
    });
    expect(await cluster.podNames(first)).not.toContain('trainer');
    passed += 1;
  });
});

describe('kube-apiserver restarts in the middle of a watch', () => {
  let dir: string;
  let controlPlane: ControlPlane;
  let cluster: TestCluster;
  let client: Client;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'restarts-kube-'));
    controlPlane = await startControlPlane(dir, infra);
    cluster = await TestCluster.create('restart-kube', controlPlane.kubeconfig);
    client = new Client({ connection: await Connection.connect({ address: testEnv('temporalAddress') }) });
  }, 120_000);
  afterAll(async () => {
    await client?.connection.close();
    await controlPlane?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the Ready wait rides out the restart in its first attempt; the run completes with no step done twice', async () => {
    const node = await cluster.addNode();
    // The rolling lock's Lease in the test's namespace: this control plane has no other.
    const worker = startWorker({ KUBECONFIG: controlPlane.kubeconfig, LEASE_NAMESPACE: cluster.namespace });
    const input = maintenanceInput([node], { until: 'done-signal' });
    try {
      const handle = await client.workflow.start<typeof nodeMaintenance>('nodeMaintenance', {
        taskQueue: worker.taskQueue,
        workflowId: nodeMaintenanceId(input.cluster),
        args: [input],
      });
      await eventually(
        async () =>
          (await handle.query<Progress>('progress')).steps.find((s) => s.name === `node ${node}`)?.message?.startsWith(`maintenance: ${REASON}: drained`),
        `${node} on hold`,
        60_000,
      );
      // The node comes back from its maintenance NotReady, so the verify step's Ready wait has to watch.
      await setNodeNotReady(cluster.kube.core, node, true);
      await eventually(async () => (await readyStatus(cluster, node)) === 'False', `${node} NotReady`);
      await handle.executeUpdate('done', { args: [node] });
      // Its first heartbeat comes once it has listed the node, right before it opens the watch.
      const childId = `${handle.workflowId}/${node}`;
      const watching = await eventually(async () => {
        const wait = await readyWait(client, childId);
        return wait?.heartbeatDetails ? wait : undefined;
      }, 'the Ready wait watching the node');
      expect(watching.attempt).toBe(1);

      await controlPlane.restartApiServer();
      expect(await readyWait(client, childId)).toMatchObject({ activityId: watching.activityId, attempt: 1 });
      await setNodeNotReady(cluster.kube.core, node, false);

      const result = await worker.whileAlive(handle.result());
      expect(result.outcome).toBe('completed');
      expect(result.nodes.map((n) => [n.node, n.status, n.leftCordoned])).toEqual([[node, 'maintained', false]]);
      const runs = await runTreeHistories(client, handle.workflowId);
      expectNoStepTwice(runs, [node]);
      // The wait that was open across the restart is the one that completed (in its first attempt, as all did).
      expect(activityRuns(runs).find((run) => run.workflowId === childId && run.activityId === watching.activityId)).toMatchObject({
        type: 'waitForNode',
        result: { node },
      });
    } finally {
      await worker.stop();
    }
    expect((await cluster.kube.core.readNode({ name: node })).spec?.unschedulable).toBeFalsy();
    passed += 1;
  });
});

function maintenanceInput(nodes: string[], end: Pick<NodeMaintenanceInput, 'until' | 'durationSeconds'>): NodeMaintenanceInput & { cluster: string } {
  return { cluster: uniqueName('lab'), nodes, reason: REASON, ...end, settleSeconds: 0, healthGate: { fluxNamespace: '' } };
}

const portOf = (address: string) => Number(address.split(':').at(-1));

/** The built worker on a fresh task queue; `whileAlive` fails a wait at once if the worker dies. */
function startWorker(env: Record<string, string>) {
  const taskQueue = uniqueName('restarts');
  const worker: ChildProcess = spawnBuiltWorker(taskQueue, env);
  worker.stdout!.resume(); // its JSON logs are not needed here; keep the pipe flowing
  const exited = new Promise<number | null>((resolve) => worker.once('exit', resolve));
  return {
    taskQueue,
    whileAlive: <T>(wait: Promise<T>) =>
      Promise.race([
        wait,
        exited.then((code) => {
          throw new Error(`the worker exited (code ${code})`);
        }),
      ]),
    stop: async () => {
      worker.kill('SIGTERM');
      await exited;
    },
  };
}

/** Counts each node's cordons and uncordons (spec.unschedulable turning true, then false) through a watch. */
function watchCordons(cluster: TestCluster, nodes: string[]) {
  const counts = new Map(nodes.map((node) => [node, { cordoned: 0, uncordoned: 0 }]));
  const unschedulable = new Map<string, boolean>();
  const informer = makeInformer<V1Node>(cluster.kube.config, '/api/v1/nodes', () => cluster.kube.core.listNode());
  const onNode = (node: V1Node) => {
    const name = node.metadata!.name!;
    const count = counts.get(name);
    if (!count) return;
    const now = node.spec?.unschedulable === true;
    if (now && !unschedulable.get(name)) count.cordoned += 1;
    if (!now && unschedulable.get(name)) count.uncordoned += 1;
    unschedulable.set(name, now);
  };
  informer.on('add', onNode);
  informer.on('update', onNode);
  return { started: informer.start(), stop: () => informer.stop(), counts };
}

async function readyStatus(cluster: TestCluster, node: string) {
  return (await cluster.kube.core.readNode({ name: node })).status?.conditions?.find((c) => c.type === 'Ready')?.status;
}

/** The per-node child's pending Ready wait (its waitForNode activity), if it has one now. */
async function readyWait(client: Client, childId: string) {
  const { raw } = await client.workflow.getHandle(childId).describe();
  return raw.pendingActivities?.find((activity) => activity.activityType?.name === 'waitForNode');
}

interface ActivityRun {
  workflowId: string;
  activityId: string;
  type: string;
  input: unknown;
  /** Attempts it took: the started event is written once, with the attempt that ended it. */
  attempts?: number;
  result?: unknown;
}

/** Every activity a run tree scheduled, with its input, attempts and result (plain JSON payloads). */
function activityRuns(runs: { workflowId: string; history: temporal.api.history.v1.IHistory }[]): ActivityRun[] {
  const decode = (payloads?: temporal.api.common.v1.IPayloads | null) =>
    payloads?.payloads?.[0] ? defaultPayloadConverter.fromPayload(payloads.payloads[0] as Payload) : undefined;
  return runs.flatMap(({ workflowId, history }) => {
    const scheduled = new Map<string, ActivityRun>();
    for (const event of history.events ?? []) {
      const id = String(event.eventId);
      if (event.activityTaskScheduledEventAttributes) {
        const { activityId, activityType, input } = event.activityTaskScheduledEventAttributes;
        scheduled.set(id, { workflowId, activityId: activityId!, type: activityType!.name!, input: decode(input) });
      }
      const started = event.activityTaskStartedEventAttributes;
      if (started) scheduled.get(String(started.scheduledEventId))!.attempts = started.attempt!;
      const completed = event.activityTaskCompletedEventAttributes;
      if (completed) scheduled.get(String(completed.scheduledEventId))!.result = decode(completed.result);
    }
    return [...scheduled.values()];
  });
}

/**
 * No step done twice: every activity of the run tree completed in its first attempt (a retry repeats a
 * step), each write to the cluster ran once per node (the lock once per run), and no workflow task failed
 * (a nondeterministic replay after the restart would).
 */
function expectNoStepTwice(runs: { workflowId: string; history: temporal.api.history.v1.IHistory }[], nodes: string[]) {
  const activities = activityRuns(runs);
  expect(activities.filter((run) => run.attempts !== 1 || run.result === undefined)).toEqual([]);
  const writes = activities.filter((run) => WRITES.includes(run.type)).map((run) => `${run.type} ${(run.input as { node?: string }).node ?? ''}`.trim());
  expect(writes.sort()).toEqual(
    ['acquireRollingLock', 'releaseRollingLock', ...nodes.flatMap((node) => [`cordonNode ${node}`, `uncordonNode ${node}`])].sort(),
  );
  expect(runs.flatMap((run) => run.history.events ?? []).filter((event) => event.workflowTaskFailedEventAttributes)).toEqual([]);
}
