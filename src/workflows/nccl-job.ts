import { ApplicationFailure, CancellationScope, condition, isCancellation, patched, workflowInfo } from '@temporalio/workflow';
import { classifyFailure } from '../domain/nccl/failure-classifier.js';
import type { Classification, FailureCause } from '../domain/nccl/failure-classifier.js';
import { judgePreflight, preflightEnabled, preflightSpec } from '../domain/nccl/preflight.js';
import type { PreflightVerdict } from '../domain/nccl/preflight.js';
import { FailureBudgets } from '../domain/nccl/failure-policy.js';
import type { BudgetUse, PolicyAction } from '../domain/nccl/failure-policy.js';
import type { NcclSummary } from '../domain/nccl/summary.js';
import { NcclJobInput } from '../schemas/nccl-job.js';
import type { NcclJobSpec } from '../schemas/nccl-job.js';
import { QUICK_CALLS, WATCHES } from './shared/activity-options.js';
import { proxyRunbookActivities } from './shared/activity-summaries.js';
import { OperatorControls } from './shared/controls.js';
import { failureTypeIn, FailureType, rootMessage } from '../failures.js';
import { ProgressTracker } from './shared/progress.js';
import { inputFixedAtStart, nodeTargets } from './shared/input.js';
import { operationMetrics } from './shared/metrics.js';

const STORED_BASELINE_LOOKBACK_SECONDS = 30 * 24 * 3600;
const CLEANUP_TIMEOUT_SECONDS = 300;
/** Runs started before the failure policy replay as they ran: every failure on retry.maxAttempts, with backoff. */
const FAILURE_POLICY_PATCH = 'nccl-failure-policy';
/** Runs started before the bandwidth preflight never run one. */
const PREFLIGHT_PATCH = 'nccl-bandwidth-preflight';
/** Runs started before bad-node quarantine never taint a node. */
const QUARANTINE_PATCH = 'nccl-bad-node-quarantine';

const { createJobAttempt, summarizeBenchmark, newestCheckpoint, pushSamples, readLatestSample, quarantineNode } = proxyRunbookActivities(QUICK_CALLS);
const { cleanupJob } = proxyRunbookActivities({ ...QUICK_CALLS, startToCloseTimeout: '10 minutes', heartbeatTimeout: '1 minute' });
const { waitForJobNodes, watchJobAttempt } = proxyRunbookActivities(WATCHES);

export interface NcclAttemptReport {
  attempt: number;
  outcome: 'succeeded' | 'failed' | 'aborted';
  /** Why it failed, as classified (or 'nodes-unavailable' / 'bad-config' before it ran). */
  cause?: FailureCause | 'nodes-unavailable';
  retryable?: boolean;
  /** What the failure policy made of it, and the budget the retry was charged to. */
  policy?: { action: PolicyAction; budget?: string; reason: string };
  detail?: string;
  /** Training: the checkpoint this attempt resumed from. */
  resumedFrom?: string;
  /** The nodes a node-lost or pod-evicted failure is attributed to. */
  nodes?: string[];
  /** The bandwidth preflight's measurement and verdict, when one ran. */
  preflight?: PreflightVerdict;
  startedAt: string;
  finishedAt?: string;
}

export interface NcclJobResult {
  name: string;
  kind: NcclJobSpec['kind'];
  outcome: 'succeeded' | 'failed' | 'aborted';
  attempts: NcclAttemptReport[];
  /** Benchmark: the parsed rank 0 log of the successful attempt. */
  summary?: NcclSummary;
  baseline?: { peakBusBwGBps: number; source: 'input' | 'stored' };
  /** Each failure budget's retries used and its limit. */
  budgets?: BudgetUse[];
  /** Nodes this run quarantined, and why. */
  quarantined?: { node: string; reason: string }[];
  metricsPushed: boolean;
  /** What the run could not do but did not fail for (no stored baseline, metrics not configured). */
  notes: string[];
}

const backoffMs = (spec: NcclJobSpec, failures: number) =>
  Math.min(spec.retry.initialBackoffSeconds * 2 ** (failures - 1), spec.retry.maxBackoffSeconds) * 1000;

/** What comes after a failed attempt: fail the run, or the next attempt after `backoffMs`, its node wait as long as `nodeWaitSeconds`. */
type NextStep = { fail: string } | { backoffMs: number; nodeWaitSeconds: number };

/** The failure policy: the first rule naming the cause decides, on its budget (src/domain/nccl/failure-policy.ts). */
function byPolicy(spec: NcclJobSpec, budgets: FailureBudgets, report: NcclAttemptReport): NextStep {
  const decision = budgets.charge(report.cause ?? 'unknown');
  report.policy = decision;
  report.retryable = decision.action !== 'fail';
  if (decision.action === 'fail') return { fail: `attempt ${report.attempt} failed (${report.cause} → fail: ${decision.reason}): ${report.detail}` };
  return {
    backoffMs: decision.action === 'retryAfterBackoff' ? backoffMs(spec, budgets.used(decision.budget!)) : 0,
    nodeWaitSeconds: decision.action === 'waitForNode' ? spec.retry.nodeRecoverySeconds : spec.nodesTimeoutSeconds,
  };
}

/** Before the policy: what the classifier calls retryable is retried, up to retry.maxAttempts attempts in all. */
function byAttemptsCap(spec: NcclJobSpec, report: NcclAttemptReport): NextStep {
  if (!report.retryable) return { fail: `attempt ${report.attempt} failed for good (${report.cause}): ${report.detail}` };
  if (report.attempt === spec.retry.maxAttempts) {
    return { fail: `gave up after ${report.attempt} attempts; last (${report.cause}): ${report.detail}` };
  }
  return { backoffMs: backoffMs(spec, report.attempt), nodeWaitSeconds: spec.retry.nodeRecoverySeconds };
}

/**
 * A multi-node NCCL benchmark (nccl-tests over mpirun) or training (torchrun) job on the DGX Sparks, attempt
 * after attempt: wait for the nodes (Ready, schedulable, a free GPU and VF), create the Indexed Job and its
 * headless Service, watch it, classify a failure, clean up, and let the failure policy decide: retry now,
 * after a backoff, once a lost node is repaired, or fail, each rule on its budget. Training resumes from
 * the newest checkpoint. Cancel or abort cleans up too.
 */
export async function ncclJob(rawInput: NcclJobInput): Promise<NcclJobResult> {
  // Decided in the first workflow task, where a replay finds the patch markers (see shared/input.ts).
  const policyApplies = patched(FAILURE_POLICY_PATCH);
  const withPreflight = patched(PREFLIGHT_PATCH);
  const quarantines = patched(QUARANTINE_PATCH);
  // A node that does not exist would otherwise be waited for, nodesTimeoutSeconds long, as if it were busy.
  const spec = await inputFixedAtStart(NcclJobInput, rawInput, ({ nodes, namespace }) => [
    ...nodeTargets(nodes),
    { field: 'input.namespace', kind: 'Namespace', name: namespace },
  ]);
  const ref = { namespace: spec.namespace, name: spec.name };
  const progress = new ProgressTracker('nccl-job', []);
  const controls = new OperatorControls(progress);
  const result: NcclJobResult = { name: spec.name, kind: spec.kind, outcome: 'failed', attempts: [], metricsPushed: false, notes: [] };
  const budgets = policyApplies ? new FailureBudgets(spec.failurePolicy, spec.retry.maxAttempts - 1) : undefined;
  result.budgets = budgets?.usage;
  if (quarantines) result.quarantined = [];
  /** Failed attempts each node was named by (a lost node, an evicted pod's). */
  const nodeFailures = new Map<string, number>();
  const cleanup = async () => {
    progress.addStep('cleanup');
    progress.step('cleanup', 'running');
    const { deleted } = await CancellationScope.nonCancellable(() => cleanupJob({ ref, timeoutSeconds: CLEANUP_TIMEOUT_SECONDS }));
    progress.step('cleanup', 'done', deleted.length ? `deleted ${deleted.join(', ')}` : 'nothing left');
  };

  try {
    let nodeWaitSeconds = spec.nodesTimeoutSeconds;
    for (let attempt = 1; ; attempt++) {
      if (await controls.checkpoint()) return finish(result, progress, 'aborted');
      const report = await runAttempt(spec, attempt, { nodeWaitSeconds, withPreflight }, progress, controls);
      result.attempts.push(report);
      try {
        // Rank 0's log goes with its pod: read the results before cleaning up.
        if (report.outcome === 'succeeded' && spec.kind === 'benchmark') await benchmarkResults(spec, result, progress);
      } finally {
        await cleanup();
      }
      if (report.outcome !== 'failed') {
        countAttempt(spec, report, 'none');
        return finish(result, progress, report.outcome);
      }
      const next = budgets ? byPolicy(spec, budgets, report) : byAttemptsCap(spec, report);
      countAttempt(spec, report, 'fail' in next ? 'fail' : (report.policy?.action ?? 'retryAfterBackoff'));
      if (budgets) {
        result.budgets = budgets.usage;
        progress.step(`attempt ${attempt}`, 'failed', `${report.cause} → ${report.policy!.action} (${report.policy!.reason}): ${report.detail}`);
      }
      // Before a failing run ends too: a node that spent the node-lost budget is the one to look at.
      const quarantined = quarantines && (await quarantineBadNodes(spec, report, nodeFailures, result));
      if ('fail' in next) return fail(result, progress, next.fail);
      // A quarantined node is out until an operator lifts it: the pair waits for its repair, it never shrinks.
      if (quarantined) next.nodeWaitSeconds = spec.retry.nodeRecoverySeconds;
      if (next.backoffMs > 0) {
        progress.phase = `backing off ${next.backoffMs / 1000}s before attempt ${attempt + 1}`;
        await condition(() => controls.aborted, next.backoffMs);
      }
      nodeWaitSeconds = next.nodeWaitSeconds;
    }
  } catch (error) {
    if (isCancellation(error)) {
      progress.phase = 'cancelled';
      await cleanup();
    }
    throw error;
  }
}

/** The attempt on the operation metrics, once decided: its cause, and what came of it (the dashboard's attempts by cause). */
function countAttempt(spec: NcclJobSpec, report: NcclAttemptReport, action: PolicyAction | 'none') {
  operationMetrics.ncclAttempt({ nccl_job: spec.name, kind: spec.kind, outcome: report.outcome, cause: report.cause ?? 'none', action });
}

/** Counts the nodes a failure names; one named quarantineAfterNodeFailures times is quarantined. True when one was. */
async function quarantineBadNodes(spec: NcclJobSpec, report: NcclAttemptReport, nodeFailures: Map<string, number>, result: NcclJobResult): Promise<boolean> {
  let quarantined = false;
  for (const node of report.nodes ?? []) {
    const failures = (nodeFailures.get(node) ?? 0) + 1;
    nodeFailures.set(node, failures);
    if (failures !== spec.quarantineAfterNodeFailures) continue;
    const reason = `${failures} failed attempts of ncclJob ${spec.name} named this node, the last ${report.cause}: ${report.detail}`;
    await quarantineNode({ node, reason, by: workflowInfo().workflowId });
    result.quarantined!.push({ node, reason });
    quarantined = true;
  }
  return quarantined;
}

function finish(result: NcclJobResult, progress: ProgressTracker, outcome: NcclJobResult['outcome']): NcclJobResult {
  result.outcome = outcome;
  progress.phase = outcome;
  return result;
}

function fail(result: NcclJobResult, progress: ProgressTracker, message: string): never {
  finish(result, progress, 'failed');
  throw ApplicationFailure.create({ type: FailureType.NcclJobFailed, nonRetryable: true, message, details: [result] });
}

async function runAttempt(
  spec: NcclJobSpec,
  attempt: number,
  { nodeWaitSeconds, withPreflight }: { nodeWaitSeconds: number; withPreflight: boolean },
  progress: ProgressTracker,
  controls: OperatorControls,
): Promise<NcclAttemptReport> {
  const step = `attempt ${attempt}`;
  progress.addStep(step);
  progress.step(step, 'running', 'waiting for the nodes');
  const report: NcclAttemptReport = { attempt, outcome: 'failed', startedAt: new Date().toISOString() };
  const done = (fields: Partial<NcclAttemptReport>) => {
    Object.assign(report, fields, { finishedAt: new Date().toISOString() });
    const phase = report.outcome === 'succeeded' ? 'done' : report.outcome === 'aborted' ? 'skipped' : 'failed';
    progress.step(step, phase, report.cause ? `${report.cause}${report.retryable ? ' (retryable)' : ''}: ${report.detail}` : report.outcome);
    return report;
  };

  progress.phase = `attempt ${attempt}: waiting for ${spec.nodes.join(', ')}`;
  try {
    await controls.untilAborted(() =>
      waitForJobNodes({
        nodes: spec.nodes,
        vfsPerPod: spec.vfsPerPod,
        // After a lost node, waiting for its repair has a deadline of its own (retry.nodeRecoverySeconds).
        timeoutSeconds: nodeWaitSeconds,
        pollSeconds: spec.pollSeconds,
      }),
    );
  } catch (error) {
    if (isCancellation(error) && controls.aborted) return done({ outcome: 'aborted', detail: controls.abortReason });
    if (isCancellation(error)) throw error;
    return done({ cause: 'nodes-unavailable', retryable: false, detail: rootMessage(error) });
  }

  if (spec.kind === 'training') {
    const { newest } = await newestCheckpoint({ ref: spec, claim: spec.training!.checkpointClaim, dir: spec.training!.checkpointDir });
    report.resumedFrom = newest;
  }
  if (withPreflight && preflightEnabled(spec)) {
    progress.phase = `attempt ${attempt}: bandwidth preflight`;
    progress.step(step, 'running', 'bandwidth preflight');
    const preflight = await bandwidthPreflight(spec, attempt, controls);
    if ('verdict' in preflight) report.preflight = preflight.verdict;
    if (preflight.outcome !== 'passed') return done(preflight.outcome === 'aborted' ? { outcome: 'aborted', detail: controls.abortReason } : preflight.failure);
  }

  progress.phase = `attempt ${attempt}: starting`;
  const started = () => {
    progress.phase = `attempt ${attempt}: running`;
    progress.step(step, 'running', report.resumedFrom ? `running, resumed from ${report.resumedFrom}` : 'running');
  };
  const ran = await runJob(spec, attempt, controls, report.resumedFrom, started);
  if (ran.outcome === 'succeeded') return done({ outcome: 'succeeded' });
  if (ran.outcome === 'aborted') return done({ outcome: 'aborted', detail: controls.abortReason });
  return done(ran.failure);
}

type JobRun = { outcome: 'succeeded' } | { outcome: 'aborted' } | { outcome: 'failed'; failure: Classification };

/** Creates one attempt's Job (and Service), and watches it to its end; a failure comes back classified. */
async function runJob(spec: NcclJobSpec, attempt: number, controls: OperatorControls, resumeFrom?: string, started?: () => void): Promise<JobRun> {
  try {
    await createJobAttempt({ spec, attempt, resumeFrom });
  } catch (error) {
    if (isCancellation(error)) throw error;
    return { outcome: 'failed', failure: { cause: 'bad-config', retryable: false, detail: rootMessage(error) } };
  }
  started?.();
  try {
    const watched = await controls.untilAborted(() => watchJobAttempt({ spec, attempt }));
    if (watched.outcome === 'succeeded') return { outcome: 'succeeded' };
    return { outcome: 'failed', failure: classifyFailure(watched.observation) };
  } catch (error) {
    if (isCancellation(error) && controls.aborted) return { outcome: 'aborted' };
    throw error;
  }
}

/**
 * A short all_reduce_perf across the nodes before the attempt (domain/nccl/preflight.ts): below the threshold
 * the attempt does not start (slow-link), with the likely causes. Its own Job, cleaned up at once.
 */
async function bandwidthPreflight(
  spec: NcclJobSpec,
  attempt: number,
  controls: OperatorControls,
): Promise<
  { outcome: 'passed'; verdict: PreflightVerdict } | { outcome: 'aborted' } | { outcome: 'failed'; failure: Classification; verdict?: PreflightVerdict }
> {
  const check = preflightSpec(spec);
  try {
    const ran = await runJob(check, attempt, controls);
    if (ran.outcome === 'aborted') return { outcome: 'aborted' };
    if (ran.outcome === 'failed') return { outcome: 'failed', failure: { ...ran.failure, detail: `bandwidth preflight: ${ran.failure.detail}` } };
    let summary: NcclSummary;
    try {
      ({ summary } = await summarizeBenchmark({ ref: check, attempt, lineRateGBps: spec.results.lineRateGBps }));
    } catch (error) {
      // Its log is no nccl-tests output: the preflight image is not what it should be.
      if (!failureTypeIn(error, [FailureType.NcclParseFailed])) throw error;
      return { outcome: 'failed', failure: { cause: 'bad-config', retryable: false, detail: `bandwidth preflight: ${rootMessage(error)}` } };
    }
    const verdict = judgePreflight(summary, spec.preflight.minBusBwGBps);
    if (verdict.passed) return { outcome: 'passed', verdict };
    const detail = `bandwidth preflight: peak all_reduce busbw ${verdict.peakBusBwGBps} GB/s is below ${verdict.thresholdGBps} GB/s; likely: ${verdict.likelyCauses.join('; ')}`;
    return { outcome: 'failed', failure: { cause: 'slow-link', retryable: false, detail }, verdict };
  } finally {
    await CancellationScope.nonCancellable(() => cleanupJob({ ref: check, timeoutSeconds: CLEANUP_TIMEOUT_SECONDS }));
  }
}

async function benchmarkResults(spec: NcclJobSpec, result: NcclJobResult, progress: ProgressTracker) {
  progress.addStep('results');
  progress.step('results', 'running');
  progress.phase = 'reading results';
  const labels = { job: spec.name, test: spec.benchmark.test };
  if (spec.results.baselinePeakBusBwGBps !== undefined) {
    result.baseline = { peakBusBwGBps: spec.results.baselinePeakBusBwGBps, source: 'input' };
  } else if (spec.results.push) {
    try {
      const stored = await readLatestSample({ name: 'nccl_busbw_peak_gbps', labels, lookbackSeconds: STORED_BASELINE_LOOKBACK_SECONDS });
      if (stored.value !== undefined) result.baseline = { peakBusBwGBps: stored.value, source: 'stored' };
      else result.notes.push('no stored baseline in the last 30 days: this run becomes the baseline');
    } catch (error) {
      result.notes.push(`no stored baseline: ${rootMessage(error)}`);
    }
  }
  const succeeded = result.attempts.at(-1)!.attempt;
  const { summary } = await summarizeBenchmark({
    ref: spec,
    attempt: succeeded,
    lineRateGBps: spec.results.lineRateGBps,
    baseline: result.baseline && { peakBusBwGBps: result.baseline.peakBusBwGBps, tolerance: spec.results.regressionTolerance },
  });
  result.summary = summary;
  if (spec.results.push) {
    const sample = (name: string, value: number) => ({ name, labels: { ...labels, collective: summary.collective }, value });
    try {
      await pushSamples({
        timestampMs: Date.now(),
        samples: [
          sample('nccl_busbw_peak_gbps', summary.peakBusBwGBps),
          ...(summary.avgBusBwGBps === null ? [] : [sample('nccl_busbw_avg_gbps', summary.avgBusBwGBps)]),
          sample('nccl_line_rate_fraction', summary.lineRateFraction),
          sample('nccl_hcas', summary.hcas.length),
          sample('nccl_gdr_enabled', summary.gdr === 'enabled' ? 1 : 0),
          sample('nccl_passed', summary.passed ? 1 : 0),
          sample('nccl_attempts', result.attempts.length),
        ],
      });
      result.metricsPushed = true;
    } catch (error) {
      result.notes.push(`results not pushed to VictoriaMetrics: ${rootMessage(error)}`);
    }
  }
  const verdict = [
    `peak ${summary.peakBusBwGBps} GB/s (${Math.round(summary.lineRateFraction * 100)}% of line rate)`,
    `${summary.transport}, ${summary.hcas.length} HCA(s), GDR ${summary.gdr}`,
    ...summary.warnings,
  ].join('; ');
  progress.step('results', summary.passed && !summary.regression?.regressed ? 'done' : 'failed', verdict);
}
