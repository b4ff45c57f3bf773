// Benchmark: bootstrap at scale on the REAL Flux source- and kustomize-controller. A synthetic graph of 500
// Kustomizations in 10 levels (lab/flux-repo.ts syntheticGraph: three hubs, fan-in and fan-out, one ConfigMap
// each with `wait: false`), brought up from an empty cluster (a fresh control plane and controller pair per
// trial) two ways:
//   (a) Flux alone: GitRepository and Kustomizations applied, Flux's --requeue-dependency (30 s);
//   (b) bootstrapCluster (the built workflow bundle, a real Temporal dev server) at the schema's largest
//       parallelism.
// Prints bootstrapCluster's wall time against Flux's own critical path and against the ideal (the larger of
// that path and the reconcile work divided by kustomize-controller's --concurrent), Flux alone / bootstrapCluster,
// the largest workflow history in events, and what kept each side busy. Measured in one run; asserts nothing.
//
// Environment: FLUX_SCALE_N (Kustomizations, default 500), FLUX_SCALE_SEED (default 17), FLUX_SCALE_CONCURRENT
// (kustomize-controller's --concurrent for both trials, default Flux's 4), FLUX_SCALE_SKIP_ALONE=1 (only (b)).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import protos from '@temporalio/proto';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { FLUX_REQUEUE_DEPENDENCY } from '../lab/flux.js';
import { syntheticGraph } from '../lab/flux-repo.js';
import type { FluxRepoSpec } from '../lab/flux-repo.js';
import { installInfra } from '../lab/infra/paths.js';
import { startTemporalDevServer } from '../lab/temporal.js';
import { BootstrapClusterInput } from '../src/schemas/bootstrap-cluster.js';
import { runBootstrapCluster, trial, untilAllReady } from './flux-cluster.js';
import type { ControllerSettings, Trial } from './flux-cluster.js';

const COUNT = Number(process.env.FLUX_SCALE_N ?? 500);
const SEED = Number(process.env.FLUX_SCALE_SEED ?? 17);
const CONCURRENT = Number(process.env.FLUX_SCALE_CONCURRENT ?? 4);
/** The most the workflow's input allows: kustomize-controller, not the workflow, should be what limits. */
const PARALLELISM = BootstrapClusterInput.shape.parallelism.unwrap().maxValue!;
/** Listing 500 Kustomizations is not free on 2 cores: Flux alone is polled once a second (it takes minutes). */
const POLL_MS = 1000;
const HISTORY_LIMIT = 10_000;

type Event = protos.temporal.api.history.v1.IHistoryEvent;
const { History } = protos.temporal.api.history.v1;
const eventMs = (event: Event) => Number(event.eventTime!.seconds) * 1000 + Math.floor((event.eventTime!.nanos ?? 0) / 1e6);

/** A run's history, its continuations (continueAsNew) and its children's, each with its size. */
async function runHistories(client: Client, workflowId: string) {
  const runs: { workflowId: string; runId?: string; events: Event[]; bytes: number }[] = [];
  const queue: [string, string | undefined][] = [[workflowId, undefined]];
  const firstRun = (await client.workflow.getHandle(workflowId).describe()).runId;
  queue[0] = [workflowId, firstRun];
  while (queue.length > 0) {
    const [id, runId] = queue.shift()!;
    const history = await client.workflow.getHandle(id, runId).fetchHistory();
    const events = history.events ?? [];
    runs.push({ workflowId: id, runId, events, bytes: History.encode(History.fromObject(history)).finish().length });
    for (const event of events) {
      const child = event.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
      if (child?.workflowId) queue.push([child.workflowId, child.runId ?? undefined]);
      const next = event.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
      if (next) queue.push([id, next]);
    }
  }
  return runs;
}

/** controller-runtime's counters for the Kustomization controller, read from kustomize-controller's /metrics. */
async function controllerCounters(metricsUrl: string) {
  const text = await (await fetch(metricsUrl)).text();
  const sum = (metric: string) =>
    text
      .split('\n')
      .filter((line) => line.startsWith(`${metric}{`) && line.includes('controller="kustomization"'))
      .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  return {
    /** Seconds spent inside Reconcile, over every reconcile (dependency checks and repeats included). */
    reconcileSeconds: sum('controller_runtime_reconcile_time_seconds_sum'),
    reconciles: sum('controller_runtime_reconcile_total'),
  };
}

/** Samples the controller's busy workers and queue depth once a second while `work` runs; returns both averages. */
async function sampled<T>(metricsUrl: string, work: () => Promise<T>) {
  const samples: { active: number; depth: number }[] = [];
  let done = false;
  const sampler = (async () => {
    while (!done) {
      const text = await (await fetch(metricsUrl)).text();
      const value = (metric: string) =>
        Number(
          text
            .split('\n')
            .find((line) => line.startsWith(`${metric}{`) && line.includes('"kustomization"'))
            ?.split(' ')[1] ?? NaN,
        );
      samples.push({ active: value('controller_runtime_active_workers'), depth: value('workqueue_depth') });
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  })();
  const before = await controllerCounters(metricsUrl);
  try {
    const result = await work();
    const after = await controllerCounters(metricsUrl);
    const mean = (pick: (s: (typeof samples)[number]) => number) => samples.reduce((a, s) => a + pick(s), 0) / Math.max(1, samples.length);
    return {
      result,
      activeWorkers: mean((s) => s.active),
      queueDepth: mean((s) => s.depth),
      reconcileSeconds: after.reconcileSeconds - before.reconcileSeconds,
      reconciles: after.reconciles - before.reconciles,
    };
  } finally {
    done = true;
    await sampler;
  }
}

/** What kept the workflow's reconciles waiting, from its history: in-flight activities and the workflow's own turnaround. */
function workflowProfile(events: Event[], spanMs: number) {
  const scheduled = new Map<number, number>();
  const started = new Map<number, number>();
  let inFlightMs = 0;
  let pickupMs = 0;
  let activities = 0;
  let taskMs = 0;
  let tasks = 0;
  let taskStarted = 0;
  for (const event of events) {
    const at = eventMs(event);
    if (event.activityTaskScheduledEventAttributes) scheduled.set(Number(event.eventId), at);
    if (event.activityTaskStartedEventAttributes) started.set(Number(event.activityTaskStartedEventAttributes.scheduledEventId), at);
    const closed = event.activityTaskCompletedEventAttributes ?? event.activityTaskFailedEventAttributes;
    if (closed) {
      const id = Number(closed.scheduledEventId);
      inFlightMs += at - scheduled.get(id)!;
      pickupMs += started.get(id)! - scheduled.get(id)!;
      activities++;
    }
    if (event.workflowTaskStartedEventAttributes) taskStarted = at;
    if (event.workflowTaskCompletedEventAttributes) {
      taskMs += at - taskStarted;
      tasks++;
    }
  }
  return { meanInFlight: inFlightMs / spanMs, meanPickupMs: pickupMs / Math.max(1, activities), activities, tasks, taskMs };
}

type Sampled = Omit<Awaited<ReturnType<typeof sampled>>, 'result'>;

function printController(c: Sampled, spanMs: number) {
  console.log(
    `    kustomize-controller: workers busy ${c.activeWorkers.toFixed(1)} of ${CONCURRENT} on average, queue depth ${c.queueDepth.toFixed(1)}, ` +
      `${c.reconciles} reconciles taking ${(c.reconcileSeconds / ((spanMs / 1000) * CONCURRENT)).toFixed(2)} of its worker time`,
  );
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function printDurations(t: Trial<unknown>, concurrent: number) {
  console.log(
    `    Flux's critical path ${s(t.fluxCriticalMs)} (${t.path.length} Kustomizations deep), reconcile work ${s(t.fluxWorkMs)} ` +
      `(${s(t.fluxWorkMs / concurrent)} over --concurrent=${concurrent}; ${(t.fluxWorkMs / COUNT).toFixed(0)} ms a reconcile), ` +
      `${t.fluxApplies} reconciles that applied (${t.fluxApplies - COUNT} beyond one each)`,
  );
}

async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const infra = await installInfra();
  const dir = mkdtempSync(join(tmpdir(), 'bench-flux-scale-'));
  const temporalServer = await startTemporalDevServer(join(dir, 'temporal'), infra, { headless: true });
  const connection = await NativeConnection.connect({ address: temporalServer.address });
  const client = new Client({ connection: await Connection.connect({ address: temporalServer.address }) });
  const graph = syntheticGraph(COUNT, SEED);
  const spec: FluxRepoSpec = { graph, content: 'configmap' };
  const controllers: ControllerSettings = { concurrent: CONCURRENT, requeueDependency: FLUX_REQUEUE_DEPENDENCY };
  const levels = new Map<string, number>();
  for (const { name, dependsOn } of graph) levels.set(name, dependsOn.length ? 1 + Math.max(...dependsOn.map((d) => levels.get(d)!)) : 0);
  const edges = graph.reduce((n, k) => n + k.dependsOn.length, 0);
  console.log(
    `== ${graph.length} Kustomizations (seed ${SEED}) in ${new Set(levels.values()).size} levels, ${edges} dependsOn edges; one ConfigMap each, wait: false`,
  );
  console.log(`kustomize-controller --concurrent=${CONCURRENT} --requeue-dependency=${FLUX_REQUEUE_DEPENDENCY}; bootstrapCluster parallelism ${PARALLELISM}`);
  try {
    let fluxAlone: Trial<Sampled> | undefined;
    if (process.env.FLUX_SCALE_SKIP_ALONE !== '1') {
      fluxAlone = await trial(
        'scale-alone',
        infra,
        spec,
        ({ kube, kustomizeMetricsUrl }) => sampled(kustomizeMetricsUrl, () => untilAllReady(kube, graph.length, POLL_MS)),
        controllers,
      );
      console.log(`\n(a) Flux alone: ${s(fluxAlone.wallMs)} from the apply to all Ready`);
      printDurations(fluxAlone, CONCURRENT);
      printController(fluxAlone.detail, fluxAlone.wallMs);
    }

    const workflow = await trial(
      'scale-workflow',
      infra,
      spec,
      async ({ kube, kustomizeMetricsUrl }) => {
        const applied = Date.now();
        const run = await sampled(kustomizeMetricsUrl, () => runBootstrapCluster(connection, client, kube, PARALLELISM, 'flux-scale'));
        return { ...run, startedAfterMs: Date.now() - applied - run.result.runMs };
      },
      controllers,
    );
    const run = workflow.detail.result;
    const idealMs = Math.max(workflow.fluxCriticalMs, workflow.fluxWorkMs / CONCURRENT);
    console.log(
      `\n(b) bootstrapCluster: ${s(run.runMs)} from its start to its end (started ${s(workflow.detail.startedAfterMs)} after the apply began; ` +
        `${s(workflow.wallMs)} from the apply to all Ready)`,
    );
    printDurations(workflow, CONCURRENT);
    console.log(`    ideal = max(critical path, work / concurrent) = ${s(idealMs)}`);

    const histories = await runHistories(client, run.workflowId);
    const largest = histories.sort((a, b) => b.events.length - a.events.length)[0]!;
    const profile = workflowProfile(largest.events, run.runMs);
    printController(workflow.detail, run.runMs);
    console.log(
      `    workflow: ${profile.meanInFlight.toFixed(1)} of ${PARALLELISM} reconcile activities in flight on average, activity pickup ${profile.meanPickupMs.toFixed(0)} ms mean, ` +
        `${profile.tasks} workflow tasks taking ${s(profile.taskMs)} in all`,
    );
    console.log(
      `    histories: ${histories.length} run(s); largest ${largest.workflowId} ${largest.events.length} events ` +
        `(${(largest.bytes / 1024).toFixed(0)} KiB; ${largest.events.length > HISTORY_LIMIT ? 'OVER' : 'under'} ${HISTORY_LIMIT})`,
    );

    console.log('\nfigures:');
    console.log(`bootstrapCluster / Flux's critical path = ${(run.runMs / workflow.fluxCriticalMs).toFixed(2)} (goal ≤ 1.15)`);
    console.log(`bootstrapCluster / ideal                = ${(run.runMs / idealMs).toFixed(2)}`);
    if (fluxAlone) console.log(`Flux alone / bootstrapCluster           = ${(fluxAlone.wallMs / workflow.wallMs).toFixed(2)} (apply to all Ready, both)`);
    console.log(`largest history                         = ${largest.events.length} events (goal < ${HISTORY_LIMIT})`);
  } finally {
    await client.connection.close();
    await connection.close();
    await temporalServer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
