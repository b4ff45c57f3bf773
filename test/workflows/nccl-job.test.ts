import { WorkflowFailedError } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { SimulatedOutcome } from '../../lab/sim/nccl-runner.js';
import { createMetricsActivities } from '../../src/activities/metrics/victoria-metrics.js';
import { QUARANTINE_REASON_ANNOTATION, QUARANTINE_TAINT } from '../../src/activities/nccl/quarantine.js';
import { quarantineCommand } from '../../src/client/nccl-quarantine.js';
import type { Progress } from '../../src/schemas/progress.js';
import { ncclJobId } from '../../src/schemas/nccl-job.js';
import type { NcclJobInput } from '../../src/schemas/nccl-job.js';
import { ncclJob } from '../../src/workflows/nccl-job.js';
import type { NcclJobResult } from '../../src/workflows/nccl-job.js';
import { testEnv } from '../helpers/env.js';
import { eventually, uniqueName } from '../helpers/kube.js';
import { NCCL_FAILURE_LOG, ncclFixture, ncclTestCluster, SPARK_RUN_LOG } from '../helpers/nccl.js';
import { activityRunner, timelineSummaries, timeSkippingEnvironment, withWorker } from '../helpers/temporal.js';

let env: TestWorkflowEnvironment;
let lab: Awaited<ReturnType<typeof ncclTestCluster>>;

beforeAll(async () => {
  [env, lab] = await Promise.all([timeSkippingEnvironment(), ncclTestCluster('nccl')]);
}, 120_000);
afterAll(async () => {
  await Promise.all([env?.teardown(), lab?.close()]);
});

/** Runs a benchmark whose attempts end as `outcomes` say; `drive` acts while it runs. */
function benchmark(
  outcomes: SimulatedOutcome[],
  overrides: Partial<NcclJobInput> = {},
  drive: (handle: WorkflowHandle<typeof ncclJob>) => Promise<void> = async () => undefined,
) {
  const name = overrides.name ?? uniqueName('bench');
  lab.runner.script(name, outcomes);
  const input: NcclJobInput = {
    name,
    kind: 'benchmark',
    namespace: lab.cluster.namespace,
    nodes: lab.nodes,
    image: 'registry.invalid/nccl-tests:2.18.3',
    pollSeconds: 1,
    hangSeconds: 4,
    benchmark: { test: 'all_gather_perf' },
    ...overrides,
  };
  return withWorker(env, lab.deps, async (taskQueue) => {
    const handle = await env.client.workflow.start(ncclJob, { taskQueue, workflowId: ncclJobId(name), args: [input] });
    await drive(handle);
    const outcome: { result?: NcclJobResult; error?: unknown } = await handle.result().then(
      (result) => ({ result }),
      (error: unknown) => ({ error }),
    );
    const progress = await handle.query<Progress>('progress');
    // The durable timers the run started (backoffs), in seconds.
    const timers = (await handle.fetchHistory()).events!.flatMap((e) =>
      e.timerStartedEventAttributes ? [Number(e.timerStartedEventAttributes.startToFireTimeout!.seconds)] : [],
    );
    const { activities } = await timelineSummaries(handle);
    return { ...outcome, progress, timers, activities, name, played: lab.runner.played.filter((p) => p.job === name), leftovers: await lab.leftovers(name) };
  });
}

/** The result a failed run carries in its failure's details. */
const failedResult = (error: unknown) => {
  const failure = (error as WorkflowFailedError).cause as { message: string; details?: unknown[] };
  return { message: failure.message, result: failure.details?.[0] as NcclJobResult };
};
const causes = (result: NcclJobResult | undefined) => result?.attempts.map((a) => [a.outcome, a.cause ?? null]);
const budgetUse = (result: NcclJobResult | undefined) => Object.fromEntries((result?.budgets ?? []).map((b) => [b.name, `${b.used}/${b.limit}`]));

test('success on the first try: results parsed, compared, pushed to VictoriaMetrics, nothing left', async () => {
  const run = await benchmark([{ kind: 'complete', log: SPARK_RUN_LOG }], { results: { baselinePeakBusBwGBps: 21 } });
  expect(run.error).toBeUndefined();
  expect(run.result).toMatchObject({ outcome: 'succeeded', metricsPushed: true, baseline: { peakBusBwGBps: 21, source: 'input' } });
  expect(causes(run.result)).toEqual([['succeeded', null]]);
  expect(run.result!.summary).toMatchObject({
    collective: 'all_gather_perf',
    peakBusBwGBps: 2.83,
    transport: 'IB',
    hcas: ['rocep1s0f1', 'roceP2p1s0f1'],
    gdr: 'disabled',
    regression: { regressed: true },
  });
  const stored = await activityRunner()(createMetricsActivities({ url: testEnv('victoriaMetrics') }).readLatestSample, {
    name: 'nccl_busbw_peak_gbps',
    labels: { job: run.name, test: 'all_gather_perf' },
    lookbackSeconds: 3600,
  });
  expect(stored.value).toBe(2.83);
  expect(run.played).toHaveLength(1);
  expect(new Set(run.played[0]!.nodes)).toEqual(new Set(lab.nodes));
  expect(run.leftovers).toEqual([]);
  expect(run.progress.steps.map((s) => [s.name, s.phase])).toEqual([
    ['attempt 1', 'done'],
    ['results', 'failed'],
    ['cleanup', 'done'],
  ]);
  // The Temporal UI's timeline reads as the runbook.
  const [first, second] = lab.nodes;
  expect(run.activities).toEqual([
    'check that 3 input target(s) exist',
    `wait for ${first}, ${second}: Ready, schedulable, a free GPU and 1 free VF(s) each`,
    `create Job ${run.name}-a1 on ${first}, ${second}`,
    `watch Job ${run.name}-a1 to its end`,
    `read the results in rank 0's log of ${run.name}-a1`,
    'push 7 samples to VictoriaMetrics',
    `clean up the Jobs, Services and pods of ${lab.cluster.namespace}/${run.name}`,
  ]);
});

test('a node lost mid-run comes back: the attempt is classified, retried after backoff, and succeeds', async () => {
  const run = await benchmark([
    { kind: 'node-loss', log: SPARK_RUN_LOG, recoverAfterMs: 3_000 },
    { kind: 'complete', log: SPARK_RUN_LOG },
  ]);
  expect(run.error).toBeUndefined();
  expect(causes(run.result)).toEqual([
    ['failed', 'node-lost'],
    ['succeeded', null],
  ]);
  expect(run.result!.attempts[0]!.detail).toMatch(/NotReady/);
  expect(run.played.map((p) => p.attempt)).toEqual([1, 2]);
  expect(run.progress.steps.find((s) => s.name === 'attempt 1')).toMatchObject({
    phase: 'failed',
    message: expect.stringContaining('node-lost → waitForNode (node-lost budget 1 of 10)'),
  });
  expect(run.leftovers).toEqual([]);
});

test('a node lost again and again waits for repair each time, on its own budget: the job-failure budget stays whole', async () => {
  const loss = { kind: 'node-loss', log: SPARK_RUN_LOG, recoverAfterMs: 2_000 } as const;
  // Quarantine off: here the same node may be lost twice, which is the next test's matter.
  const run = await benchmark([loss, loss, { kind: 'complete', log: SPARK_RUN_LOG }], { retry: { maxAttempts: 1 }, quarantineAfterNodeFailures: 0 });
  expect(run.error).toBeUndefined();
  expect(causes(run.result)).toEqual([
    ['failed', 'node-lost'],
    ['failed', 'node-lost'],
    ['succeeded', null],
  ]);
  expect(run.result!.attempts[1]!.policy).toEqual({ action: 'waitForNode', budget: 'node-lost', reason: 'node-lost budget 2 of 10' });
  expect(budgetUse(run.result)).toEqual({ 'node-lost': '2/10', 'pod-preempted/pod-evicted': '0/5', 'job failures': '0/0' });
  // Waiting for the node is its own deadline (the node wait), not a backoff timer.
  expect(run.timers).toEqual([]);
});

test("a rule's own budget, once spent, ends the run", async () => {
  const loss = { kind: 'node-loss', log: SPARK_RUN_LOG, recoverAfterMs: 2_000 } as const;
  const run = await benchmark([loss], { failurePolicy: [{ causes: ['node-lost'], action: 'waitForNode', retries: 1 }], quarantineAfterNodeFailures: 0 });
  const { message, result } = failedResult(run.error);
  expect(message).toContain('attempt 2 failed (node-lost → fail: the node-lost budget is spent (1 of 1 retries))');
  expect(causes(result)).toEqual([
    ['failed', 'node-lost'],
    ['failed', 'node-lost'],
  ]);
  expect(budgetUse(result)).toEqual({ 'node-lost': '1/1', 'job failures': '0/2' });
  expect(run.leftovers).toEqual([]);
});

test('retryNow starts the next attempt without a backoff; retryAfterBackoff waits first, doubling', async () => {
  const failing = { kind: 'fail', log: NCCL_FAILURE_LOG, exitCode: 3 } as const;
  const now = await benchmark([failing, { kind: 'complete', log: SPARK_RUN_LOG }], {
    failurePolicy: [{ causes: ['nccl-error'], action: 'retryNow', retries: 1 }],
  });
  expect(causes(now.result)).toEqual([
    ['failed', 'nccl-error'],
    ['succeeded', null],
  ]);
  expect(now.timers).toEqual([]);
  const later = await benchmark([failing, failing, { kind: 'complete', log: SPARK_RUN_LOG }], { retry: { initialBackoffSeconds: 7 } });
  expect(later.result?.outcome).toBe('succeeded');
  expect(later.timers).toEqual([7, 14]);
  expect(budgetUse(later.result)).toMatchObject({ 'job failures': '2/2' });
});

test('a hang (no log progress) is detected and retried', async () => {
  const run = await benchmark([
    { kind: 'hang', log: SPARK_RUN_LOG },
    { kind: 'complete', log: SPARK_RUN_LOG },
  ]);
  expect(causes(run.result)).toEqual([
    ['failed', 'hang'],
    ['succeeded', null],
  ]);
  expect(run.leftovers).toEqual([]);
});

test('bad configuration fails at once, without another attempt', async () => {
  const log = 'bash: line 6: /opt/nccl-tests/build/all_gather_perf: No such file or directory\n';
  const run = await benchmark([{ kind: 'fail', log, exitCode: 127 }], { retry: { maxAttempts: 3 } });
  const { message, result } = failedResult(run.error);
  expect(message).toContain('attempt 1 failed (bad-config → fail: rule 3 fails the run)');
  expect(causes(result)).toEqual([['failed', 'bad-config']]);
  expect(run.played).toHaveLength(1);
  expect(run.leftovers).toEqual([]);
});

test('the job-failure budget (retry.maxAttempts) ends a run that keeps failing', async () => {
  const run = await benchmark([{ kind: 'fail', log: NCCL_FAILURE_LOG, exitCode: 3 }], { retry: { maxAttempts: 2 } });
  const { message, result } = failedResult(run.error);
  expect(message).toContain('attempt 2 failed (nccl-error → fail: the job failures budget is spent (1 of 1 retries))');
  expect(budgetUse(result)).toMatchObject({ 'job failures': '1/1' });
  expect(causes(result)).toEqual([
    ['failed', 'nccl-error'],
    ['failed', 'nccl-error'],
  ]);
  expect(run.progress.phase).toBe('failed');
  expect(run.leftovers).toEqual([]);
});

describe('bandwidth preflight (training)', () => {
  const training = (preflightLog: string, outcomes: SimulatedOutcome[] = []) => {
    const name = uniqueName('train');
    lab.runner.script(`${name}-preflight`, [{ kind: 'complete', log: preflightLog }]);
    return benchmark(outcomes, {
      name,
      kind: 'training',
      training: { command: ['train.py'], checkpointClaim: `${name}-ckpt` },
      preflight: { image: 'registry.invalid/nccl-tests:2.18.3' },
    });
  };
  const preflightsPlayed = (name: string) => lab.runner.played.filter((p) => p.job === `${name}-preflight`).length;

  test('a link below the threshold keeps the attempt from starting, and the report names the likely cause', async () => {
    // The real degraded run's figures, as NCCL prints them when it finds one of the two HCAs.
    const run = await training(SPARK_RUN_LOG.replace(' [1]roceP2p1s0f1:1/RoCE', ''));
    const { message, result } = failedResult(run.error);
    expect(message).toContain('attempt 1 failed (slow-link → fail: rule 3 fails the run)');
    expect(message).toContain('peak all_reduce busbw 2.83 GB/s is below 15 GB/s; likely: one HCA (rocep1s0f1)');
    expect(result.attempts[0]!.preflight).toMatchObject({ passed: false, peakBusBwGBps: 2.83, transport: 'IB', hcas: ['rocep1s0f1'] });
    expect([preflightsPlayed(run.name), run.played.length]).toEqual([1, 0]);
    expect([run.leftovers, await lab.leftovers(`${run.name}-preflight`)]).toEqual([[], []]);
  });

  test('a fast link lets the attempt start', async () => {
    const run = await training(ncclFixture('all_reduce-2nodes-8xH100.txt'), [{ kind: 'complete', log: 'step 1 loss 2.0\ndone\n' }]);
    expect(run.error).toBeUndefined();
    expect(run.result!.attempts.map((a) => [a.outcome, a.preflight?.passed, a.preflight?.peakBusBwGBps])).toEqual([['succeeded', true, 338.82]]);
    expect([preflightsPlayed(run.name), run.played.length]).toEqual([1, 1]);
    expect([run.leftovers, await lab.leftovers(`${run.name}-preflight`)]).toEqual([[], []]);
  });
});

test('a node named by two failed attempts is quarantined (taint, reason); the pair waits for its repair and goes on once an operator lifts it', async () => {
  const [bad] = lab.nodes as [string, string];
  // NotReady long enough for the watch (pollSeconds 1) to see it under load.
  const loss = { kind: 'node-loss', log: SPARK_RUN_LOG, recoverAfterMs: 3_000, node: bad } as const;
  const kubeconfig = testEnv('kubeconfig');
  let listed = '';
  const run = await benchmark([loss, loss, { kind: 'complete', log: SPARK_RUN_LOG }], { quarantineAfterNodeFailures: 2 }, async (handle) => {
    const node = await eventually(
      async () => {
        const read = await lab.cluster.kube.core.readNode({ name: bad });
        return read.spec?.taints?.some((t) => t.key === QUARANTINE_TAINT) && read;
      },
      'the node quarantined',
      180_000,
    );
    expect(node.spec!.taints).toContainEqual(expect.objectContaining({ key: QUARANTINE_TAINT, value: handle.workflowId, effect: 'NoSchedule' }));
    expect(node.metadata!.annotations![QUARANTINE_REASON_ANNOTATION]).toMatch(
      /^2 failed attempts of ncclJob .* named this node, the last node-lost: node .* NotReady/,
    );
    // The pair does not shrink: no third attempt while the node is out.
    await eventually(async () => (await handle.query<Progress>('progress')).phase.startsWith('attempt 3: waiting'), 'attempt 3 waiting for the nodes', 60_000);
    expect(lab.runner.played.filter((p) => p.job === handle.workflowId.replace('nccl-job-', ''))).toHaveLength(2);
    listed = await quarantineCommand(['list'], kubeconfig);
    expect(await quarantineCommand(['lift', bad], kubeconfig)).toBe(`lifted the quarantine of ${bad}`);
  });
  expect(listed).toContain(bad);
  expect(listed).toContain('node-lost');
  expect(run.error).toBeUndefined();
  expect(causes(run.result)).toEqual([
    ['failed', 'node-lost'],
    ['failed', 'node-lost'],
    ['succeeded', null],
  ]);
  expect(run.result!.quarantined).toEqual([{ node: bad, reason: expect.stringContaining('named this node') }]);
  const after = await lab.cluster.kube.core.readNode({ name: bad });
  expect([after.spec?.taints?.some((t) => t.key === QUARANTINE_TAINT) ?? false, after.metadata?.annotations?.[QUARANTINE_REASON_ANNOTATION]]).toEqual([
    false,
    undefined,
  ]);
  expect(await quarantineCommand(['lift', bad], kubeconfig)).toBe(`${bad} is not quarantined`);
}, 300_000);

// Last in the file: each run ends while its watch activity is still in flight; once that activity completes into
// no run, the time-skipping test server stopped skipping time for the rest of the file (seen with the sriov-rollout
// abort test), so a test after these would wait its timers out in real time.
test('cancel cleans up the running attempt', async () => {
  const run = await benchmark([{ kind: 'hang', log: SPARK_RUN_LOG }], { hangSeconds: 3600 }, async (handle) => {
    await eventually(async () => lab.runner.played.some((p) => p.job === handle.workflowId.replace('nccl-job-', '')), 'the attempt running');
    await handle.cancel();
  });
  expect(run.error).toBeInstanceOf(WorkflowFailedError);
  expect(run.progress.phase).toBe('cancelled');
  expect(run.progress.steps.find((s) => s.name === 'cleanup')?.phase).toBe('done');
  expect(run.leftovers).toEqual([]);
});

test('pause holds off the next attempt; abort stops the running one and cleans up', async () => {
  const run = await benchmark(
    [
      { kind: 'fail', log: NCCL_FAILURE_LOG, exitCode: 3 },
      { kind: 'hang', log: SPARK_RUN_LOG },
    ],
    { hangSeconds: 3600, retry: { initialBackoffSeconds: 1 } },
    async (handle) => {
      const job = handle.workflowId.replace('nccl-job-', '');
      await eventually(async () => lab.runner.played.some((p) => p.job === job), 'attempt 1 running');
      await handle.signal('pause');
      const paused = await eventually(async () => {
        const progress = await handle.query<Progress>('progress');
        return progress.steps.some((s) => s.name === 'attempt 1' && s.phase === 'failed') && progress.paused && progress;
      }, 'attempt 1 failed while paused');
      expect(paused.steps.some((s) => s.name === 'attempt 2')).toBe(false);
      await handle.signal('resume');
      await eventually(async () => lab.runner.played.filter((p) => p.job === job).length === 2, 'attempt 2 running');
      await handle.signal('abort', 'operator stopped it');
    },
  );
  expect(run.result?.outcome).toBe('aborted');
  expect(run.result?.attempts.map((a) => [a.outcome, a.cause ?? null])).toEqual([
    ['failed', 'nccl-error'],
    ['aborted', null],
  ]);
  expect(run.result?.attempts[1]!.detail).toBe('operator stopped it');
  expect(run.leftovers).toEqual([]);
});
