import { ActivityCancellationType, ApplicationFailure, patched, sleep, workflowInfo } from '@temporalio/workflow';
import { describeLeftovers, describePass, describePlan, describeRefusals } from '../domain/drain.js';
import type { DrainPassResult, DrainPlan, DrainPodPolicy, PlannedPod } from '../domain/drain.js';
import type { CordonState } from '../domain/node.js';
import { FailureType } from '../failures.js';
import { DrainNodeInput } from '../schemas/drain-node.js';
import { proxyRunbookActivities } from './shared/activity-summaries.js';
import { OperatorControls } from './shared/controls.js';
import { operationMetrics } from './shared/metrics.js';
import { ProgressTracker } from './shared/progress.js';
import { inputFixedAtStart, unlessChild } from './shared/input.js';

/**
 * Pauses between drain passes, giving a PDB-guarded workload time to bring a replacement up: short at first,
 * since a replacement is often Ready within a second or two, then kubectl's 5 s. Only the timers' lengths
 * differ from older runs, which replay does not compare.
 */
const PASS_INTERVALS_MS = [1_000, 2_000, 5_000];
const passInterval = (passesDone: number) => PASS_INTERVALS_MS[Math.min(passesDone, PASS_INTERVALS_MS.length) - 1]!;

const NODE_CALLS = { startToCloseTimeout: '2 minutes', heartbeatTimeout: '30 seconds', retry: { maximumAttempts: 5 } } as const;
const { planNodeDrain, cordonNode, drainPass, uncordonNode } = proxyRunbookActivities(NODE_CALLS);

/**
 * A drain pass that is cancelled (an aborted rollout cancels its node's drain) is waited for until it has
 * stopped evicting, so the run ends, and reports itself aborted, only once nothing it started still removes
 * pods. Older runs left the pass running on its own (the SDK's default, TRY_CANCEL); that changes what a
 * cancelled run does next, hence the patch.
 */
const DRAIN_PASS_STOPS_FIRST_PATCH = 'drain-pass-stops-before-the-run-ends';
const { drainPass: drainPassStoppingFirst } = proxyRunbookActivities({
  ...NODE_CALLS,
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

export interface DrainNodeResult extends CordonState {
  node: string;
  outcome: 'planned' | 'drained' | 'aborted';
  plan: DrainPlan;
  passes: number;
  lastPass?: DrainPassResult;
}

/**
 * Cordon a node and evict its pods through the Eviction API (finished pods are deleted), pass after pass,
 * until only ignored pods (live DaemonSets', mirror and skip-labelled pods) are left. PodDisruptionBudgets
 * are respected: a refused eviction is retried next pass until the deadline, then the run fails naming
 * every pod still in the way, and the node stays cordoned. A pod the pod policy refuses to remove fails the
 * run at once, before the cordon when the plan already shows it.
 */
export async function drainNode(rawInput: DrainNodeInput): Promise<DrainNodeResult> {
  // The node must exist: otherwise a dry run of a typo would plan an empty drain.
  const input = await inputFixedAtStart(
    DrainNodeInput,
    rawInput,
    unlessChild(({ node }) => [{ field: 'input.node', kind: 'Node', name: node }]),
  );
  const { node } = input;
  const policy: DrainPodPolicy = { unmanagedPods: input.unmanagedPods, emptyDirPods: input.emptyDirPods };
  const owner = input.owner ?? workflowInfo().workflowId;
  const progress = new ProgressTracker('drain-node', ['plan', 'cordon', 'drain', 'uncordon']);
  const controls = new OperatorControls(progress);
  const result: DrainNodeResult = {
    node,
    outcome: 'aborted',
    plan: { evict: [], delete: [], deleting: [], refused: [], ignored: [] },
    passes: 0,
    cordonedByOthers: false,
    uncordoned: false,
  };
  const finish = (outcome: DrainNodeResult['outcome']) => {
    progress.phase = outcome;
    return { ...result, outcome };
  };

  progress.phase = 'planning';
  progress.step('plan', 'running');
  result.plan = await planNodeDrain({ node, policy });
  const refusedAtPlan = !input.dryRun && result.plan.refused.length > 0;
  progress.step('plan', refusedAtPlan ? 'failed' : 'done', describePlan(result.plan));
  if (input.dryRun) return finish('planned');
  if (refusedAtPlan) throw refusal(result.plan.refused, 'nothing was changed');
  if (await controls.checkpoint()) return finish('aborted');

  progress.phase = 'cordoning';
  progress.step('cordon', 'running');
  const cordonStarted = Date.now();
  const cordon = await cordonNode({ node, owner });
  operationMetrics.nodePhase({ phase: 'cordon', node, outcome: 'done' }, cordonStarted);
  Object.assign(result, { cordonedByOthers: cordon.cordonedByOthers, cordonedBefore: cordon.cordonedBefore });
  progress.step('cordon', 'done', cordon.cordonedBefore ? `was already cordoned by ${cordon.cordonedBefore}` : 'cordoned');

  progress.phase = 'draining';
  progress.step('drain', 'running');
  const drainStarted = Date.now();
  const drainEnded = (outcome: 'done' | 'failed') => operationMetrics.nodePhase({ phase: 'drain', node, outcome }, drainStarted);
  const deadline = Date.now() + input.timeoutSeconds * 1000;
  for (;;) {
    if (await controls.checkpoint()) return finish('aborted');
    const pass = { node, policy, gracePeriodSeconds: input.gracePeriodSeconds };
    const passActivity = patched(DRAIN_PASS_STOPS_FIRST_PATCH) ? drainPassStoppingFirst : drainPass;
    result.lastPass = await passActivity.executeWithOptions({ summary: `drain ${node} (pass ${result.passes + 1})` }, [pass]);
    result.passes += 1;
    operationMetrics.evictions({ node }, result.lastPass.evicted.length, result.lastPass.blocked.length);
    progress.step('drain', 'running', describePass(result.lastPass));
    if (result.lastPass.drained) break;
    if (result.lastPass.refused.length > 0) {
      drainEnded('failed');
      progress.step('drain', 'failed', describePass(result.lastPass));
      throw refusal(result.lastPass.refused, 'node left cordoned');
    }
    if (Date.now() >= deadline) {
      drainEnded('failed');
      progress.step('drain', 'failed', describePass(result.lastPass));
      progress.phase = 'timed-out';
      throw ApplicationFailure.create({
        type: FailureType.DrainTimedOut,
        nonRetryable: true,
        message: `drain of ${node} timed out after ${input.timeoutSeconds}s; node left cordoned. ` + `Still on it:\n${describeLeftovers(result.lastPass)}`,
        details: [result.lastPass],
      });
    }
    const inTheWay = describeLeftovers(result.lastPass).replaceAll('\n', '; ');
    progress.phase = `draining: pass ${result.passes + 1} next${inTheWay ? `; in the way: ${inTheWay}` : ''}`;
    await sleep(Math.min(passInterval(result.passes), Math.max(deadline - Date.now(), 1)), {
      summary: `wait before drain pass ${result.passes + 1} of ${node}`,
    });
    progress.phase = 'draining';
  }
  drainEnded('done');
  progress.step('drain', 'done', describePass(result.lastPass));

  if (input.uncordonAfter && !result.cordonedByOthers) {
    progress.step('uncordon', 'running');
    const uncordon = await uncordonNode({ node, owner });
    result.uncordoned = uncordon.uncordoned;
    progress.step('uncordon', 'done', uncordon.reason);
  } else {
    progress.step('uncordon', 'skipped', 'node stays cordoned');
  }
  return finish('drained');

  function refusal(refused: PlannedPod[], state: string) {
    progress.phase = 'refused';
    return ApplicationFailure.create({
      type: FailureType.DrainRefused,
      nonRetryable: true,
      message: `drain of ${node} refused; ${state}. The pod policy keeps:\n${describeRefusals(refused)}`,
      details: [refused],
    });
  }
}
