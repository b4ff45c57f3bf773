import {
  ApplicationFailure,
  condition,
  executeChild,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { unmetExpectations } from '../domain/node.js';
import { planNodeSteps } from '../domain/rolling-plan.js';
import type { VfConfig } from '../domain/sriov-config.js';
import { SriovRolloutInput, sriovRolloutId } from '../schemas/sriov-rollout.js';
import { parseWorkflowInput } from '../schemas/validate.js';
import { QUICK_CALLS, WATCHES } from './shared/activity-options.js';
import { OperatorControls } from './shared/controls.js';
import { approveSignal, nodeProgressSignal, progressQuery, rollbackSignal } from './shared/messages.js';
import { ProgressTracker } from './shared/progress.js';
import { finishReports, recordOutcome, rollingStopped } from './shared/rolling.js';
import type { NodeReport as RollingNodeReport } from './shared/rolling.js';
import { RollingGates, rollWithGates } from './shared/rolling-gates.js';
import { refuseWhileOtherRollingRuns } from './shared/rolling-lock.js';
import { NODES_ATTRIBUTE, OPERATION_ATTRIBUTE } from './shared/search-attributes.js';
import { sriovNodeReconfigure, SRIOV_RESOURCE } from './sriov-node.js';
import type { SriovNodeResult } from './sriov-node.js';

const MERGE_POLL = '30 seconds';

// Cloning the GitOps repo on a fresh worker can take longer than a quick call.
const { listNodes, readVfConfig, proposeVfChange, getPullRequest, requestReconcile } = proxyActivities<Activities>({
  ...QUICK_CALLS,
  startToCloseTimeout: '5 minutes',
});
const { waitForAppliedRevision } = proxyActivities<Activities>(WATCHES);

export interface RolloutPlan {
  nodes: string[];
  /** Nodes in scope that are not Ready now: the pre-check will stop the rollout at them. */
  notReady: string[];
  from: VfConfig;
  to: VfConfig;
  gitops: { mode: 'pull-request' | 'push'; path: string; baseCommit: string };
  maxUnavailable: number;
  /** Per node, what will happen in order: window, steps, hooks, settle and health gate. */
  steps: Record<string, string[]>;
}

export type NodeReport = RollingNodeReport<'changed' | 'rolled-back'>;

export interface SriovRolloutResult {
  outcome: 'planned' | 'completed' | 'aborted' | 'rolled-back';
  plan: RolloutPlan;
  change?: { commit: string; pullRequest?: { number: number; url: string } };
  nodes: NodeReport[];
}


/**
 * SR-IOV VF reconfiguration, GitOps first, then node by node:
 * plan → (approval) → commit the new VF config (pull request or push) → wait for the merge and for Flux
 * to apply it → per node, as a child workflow: pre-check, cordon, drain, restart the SR-IOV plugin pod,
 * verify the advertised VFs, uncordon → report. Stops starting nodes at the first failure; `rollback`
 * (signal, or input on failure) reverts the Git change and rolls the changed nodes back the same way.
 */
export async function sriovRollout(rawInput: SriovRolloutInput): Promise<SriovRolloutResult> {
  const input = parseWorkflowInput(SriovRolloutInput, rawInput);
  const { workflowId, runId } = workflowInfo();
  const lock = sriovRolloutId(input.cluster);
  if (workflowId !== lock && !input.dryRun) {
    throw ApplicationFailure.nonRetryable(
      `start this rollout with workflow id ${lock}: that id is the lock that allows one SR-IOV rollout per cluster`,
      'WrongWorkflowId',
    );
  }
  const progress = new ProgressTracker('sriov-rollout', ['plan', 'approval', 'git', 'merge', 'flux']);
  setHandler(progressQuery, () => progress.snapshot());
  const controls = new OperatorControls(progress);
  let approvals = 0;
  let rollbackReason: string | undefined;
  setHandler(approveSignal, () => void (approvals += 1));
  setHandler(rollbackSignal, (why) => void (rollbackReason = why ?? 'requested by operator'));
  setHandler(nodeProgressSignal, ({ node, step, phase, message }) =>
    progress.step(`node ${node}`, phase === 'failed' ? 'failed' : 'running', `${step}: ${message ?? phase}`),
  );
  const stopRequested = () => controls.aborted || rollbackReason !== undefined;

  // Plan
  progress.phase = 'planning';
  progress.step('plan', 'running');
  if (!input.dryRun) await refuseWhileOtherRollingRuns(input.cluster);
  const facts = await listNodes(input.nodes ? { names: input.nodes } : { selector: input.nodeSelector });
  const nodes = input.nodes ?? facts.map((n) => n.name);
  if (nodes.length === 0) throw ApplicationFailure.nonRetryable(`no node matches ${input.nodeSelector}`, 'NoNodes');
  const gates = new RollingGates(input, nodes, progress, stopRequested);
  const current = await readVfConfig({ path: input.gitops.path });
  const plan: RolloutPlan = {
    nodes,
    notReady: facts.filter((n) => n.conditions.Ready !== 'True').map((n) => n.name),
    from: current.config,
    to: { numVfs: input.numVfs, mtu: input.mtu },
    gitops: { mode: input.gitops.mode, path: input.gitops.path, baseCommit: current.commit },
    maxUnavailable: input.maxUnavailable,
    steps: Object.fromEntries(
      nodes.map((node, i) => [
        node,
        planNodeSteps({
          precheck: `Ready; pods using ${SRIOV_RESOURCE}: ${input.node.rdmaPods}`,
          drainTimeoutSeconds: input.node.drainTimeoutSeconds,
          ownSteps: [`restart the SR-IOV plugin pod (${input.node.daemonSet.namespace}/${input.node.daemonSet.name})`, `verify ${SRIOV_RESOURCE} = ${input.numVfs}`],
          hooks: input.hooks,
          gates: gates.describe(),
          last: i === nodes.length - 1,
        }),
      ]),
    ),
  };
  for (const node of nodes) progress.addStep(`node ${node}`);
  upsertSearchAttributes([
    { key: OPERATION_ATTRIBUTE, value: 'sriov-rollout' },
    { key: NODES_ATTRIBUTE, value: nodes },
  ]);
  progress.step('plan', 'done', `${nodes.join(', ')}: ${plan.from.numVfs} → ${plan.to.numVfs} VFs, MTU ${plan.from.mtu} → ${plan.to.mtu}`);
  const reports = new Map<string, NodeReport>(nodes.map((node) => [node, { node, status: 'not-started', message: '', leftCordoned: false }]));
  const result = (outcome: SriovRolloutResult['outcome'], change?: SriovRolloutResult['change']): SriovRolloutResult => {
    progress.phase = outcome;
    return { outcome, plan, change, nodes: [...reports.values()] };
  };
  if (input.dryRun) {
    for (const step of ['approval', 'git', 'merge', 'flux', ...nodes.map((n) => `node ${n}`)]) progress.step(step, 'skipped', 'dry run');
    return result('planned');
  }

  const approve = async (what: string): Promise<boolean> => {
    progress.phase = `awaiting approval: ${what}`;
    const wanted = approvals + 1;
    await condition(() => approvals >= wanted || stopRequested());
    return !stopRequested();
  };
  if (input.approval === 'once') {
    progress.step('approval', 'running', 'send the approve signal to start');
    if (!(await approve('the whole rollout'))) return result('aborted');
    progress.step('approval', 'done', 'approved');
  } else {
    progress.step('approval', 'skipped', input.approval === 'each-node' ? 'asked before each node' : 'not required');
  }

  // Desired state goes through Git; Flux applies it (the DaemonSet is OnDelete: nothing restarts yet).
  const applyConfig = async (target: VfConfig, branch: string, title: string) => {
    progress.phase = 'committing';
    progress.step('git', 'running', title);
    const change = await proposeVfChange({ path: input.gitops.path, desired: target, mode: input.gitops.mode, branch, title });
    progress.step('git', 'done', change.pullRequest ? `pull request #${change.pullRequest.number} ${change.pullRequest.url}` : change.changed ? `pushed ${change.commit}` : 'already in Git');
    let commit = change.commit;
    if (change.pullRequest) {
      progress.phase = 'awaiting merge';
      progress.step('merge', 'running', `waiting for ${change.pullRequest.url} to be merged`);
      const merged = await waitForMerge(change.pullRequest.number);
      if (!merged) return undefined;
      commit = merged;
    }
    progress.step('merge', 'done', commit);
    progress.phase = 'awaiting flux';
    progress.step('flux', 'running', `waiting for ${input.gitops.kustomization.name} to apply ${commit}`);
    await requestReconcile(input.gitops.kustomization);
    await waitForAppliedRevision({ ...input.gitops.kustomization, commit, timeoutSeconds: input.gitops.fluxTimeoutSeconds });
    progress.step('flux', 'done', `applied ${commit}`);
    return { commit, pullRequest: change.pullRequest };
  };
  const waitForMerge = async (number: number): Promise<string | undefined> => {
    const deadline = Date.now() + input.gitops.mergeTimeoutSeconds * 1000;
    for (;;) {
      const pull = await getPullRequest({ number });
      if (pull.merged) return pull.mergeCommit;
      if (pull.state === 'closed') throw ApplicationFailure.nonRetryable(`pull request #${number} was closed without merging`, 'PullRequestClosed');
      if (Date.now() >= deadline) throw ApplicationFailure.nonRetryable(`pull request #${number} not merged in time`, 'MergeTimedOut');
      if (await condition(stopRequested, MERGE_POLL)) return undefined;
    }
  };

  const branch = `cluster-ops/sriov-${input.numVfs}vfs-${runId.slice(0, 8)}`;
  const change = await applyConfig(plan.to, branch, `SR-IOV: ${plan.to.numVfs} VFs, MTU ${plan.to.mtu} on ${input.cluster}`);
  if (!change) return result(rollbackReason ? 'rolled-back' : 'aborted');

  // Node by node. Abort or rollback cancels the node in progress (its drain stops; the node stays cordoned).
  const rollOver = (target: VfConfig, targets: string[], suffix: string, status: 'changed' | 'rolled-back') =>
    rollWithGates<SriovNodeResult>(
      targets,
      {
        maxUnavailable: input.maxUnavailable,
        gates,
        controls,
        stopRequested,
        approve: (node) => (input.approval === 'each-node' && suffix === '' ? approve(`node ${node}`) : Promise.resolve(true)),
        stillVerified: (node) => nodeStillHas(node, target.numVfs),
        onOutcome: (outcome) => recordOutcome(reports, outcome, progress, () => ({ status, message: `${status === 'changed' ? 'reconfigured' : 'rolled back'} to ${target.numVfs} VFs` })),
      },
      (node) => {
        progress.phase = `node ${node}`;
        return executeChild(sriovNodeReconfigure, {
          workflowId: `${workflowId}/${node}${suffix}`,
          args: [{ node, numVfs: target.numVfs, policy: input.node, hooks: input.hooks }],
        });
      },
    );

  const rolled = await rollOver(plan.to, nodes, '', 'changed');
  const stopReason = finishReports(reports, rolled, progress, await gates.cordonedNow());

  if (stopReason && input.rollbackOnFailure) rollbackReason ??= stopReason;
  if (rollbackReason !== undefined) {
    const why = rollbackReason;
    const touched = rolled.outcomes.map((o) => o.node);
    progress.phase = `rolling back: ${why}`;
    rollbackReason = undefined;
    controls.abortReason = undefined;
    const reverted = await applyConfig(plan.from, `${branch}-rollback`, `Revert SR-IOV to ${plan.from.numVfs} VFs, MTU ${plan.from.mtu} (${why})`);
    if (!reverted) return result('aborted', change);
    const back = await rollOver(plan.from, touched, '-rollback', 'rolled-back');
    const backFailed = finishReports(reports, back, progress, await gates.cordonedNow());
    if (backFailed) throw rollingStopped('SR-IOV rollout', `rollback failed: ${backFailed}`, [...reports.values()]);
    return result('rolled-back', change);
  }
  if (controls.aborted) return result('aborted', change);
  if (stopReason) throw rollingStopped('SR-IOV rollout', stopReason, [...reports.values()]);
  return result('completed', change);
}

/** After the settle time the node must still be Ready and advertise the new VF count. */
async function nodeStillHas(node: string, numVfs: number): Promise<string[]> {
  const [facts] = await listNodes({ names: [node] });
  return unmetExpectations(facts!, { condition: { type: 'Ready', status: 'True' }, allocatable: { resource: SRIOV_RESOURCE, quantity: String(numVfs) } });
}
