import {
  ApplicationFailure,
  CancellationScope,
  condition,
  executeChild,
  isCancellation,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { defineSearchAttributeKey } from '@temporalio/common';
import type { Activities } from '../activities/index.js';
import type { VfConfig } from '../domain/sriov-config.js';
import { SriovRolloutInput, sriovRolloutId } from '../schemas/sriov-rollout.js';
import { parseWorkflowInput } from '../schemas/validate.js';
import { QUICK_CALLS, WATCHES } from './shared/activity-options.js';
import { OperatorControls } from './shared/controls.js';
import { approveSignal, nodeProgressSignal, progressQuery, rollbackSignal } from './shared/messages.js';
import { rootMessage } from './shared/failures.js';
import { ProgressTracker } from './shared/progress.js';
import { rollNodes } from './shared/rolling.js';
import { sriovNodeReconfigure } from './sriov-node.js';
import type { SriovNodeResult } from './sriov-node.js';

const MERGE_POLL = '30 seconds';
export const OPERATION_ATTRIBUTE = defineSearchAttributeKey('ClusterOpsOperation', 'KEYWORD');
export const NODES_ATTRIBUTE = defineSearchAttributeKey('ClusterOpsNodes', 'KEYWORD_LIST');

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
}

export type NodeStatus = 'changed' | 'failed' | 'aborted' | 'not-started' | 'rolled-back';

export interface NodeReport {
  node: string;
  status: NodeStatus;
  message: string;
  /** Left cordoned at the end of the run: by an admin before us, or by a failure. */
  leftCordoned: boolean;
}

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
  if (workflowId !== lock) {
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
  const facts = await listNodes(input.nodes ? { names: input.nodes } : { selector: input.nodeSelector });
  const nodes = input.nodes ?? facts.map((n) => n.name);
  if (nodes.length === 0) throw ApplicationFailure.nonRetryable(`no node matches ${input.nodeSelector}`, 'NoNodes');
  const current = await readVfConfig({ path: input.gitops.path });
  const plan: RolloutPlan = {
    nodes,
    notReady: facts.filter((n) => n.conditions.Ready !== 'True').map((n) => n.name),
    from: current.config,
    to: { numVfs: input.numVfs, mtu: input.mtu },
    gitops: { mode: input.gitops.mode, path: input.gitops.path, baseCommit: current.commit },
    maxUnavailable: input.maxUnavailable,
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
  const active = new Set<CancellationScope>();
  void (async () => {
    for (;;) {
      await condition(stopRequested);
      active.forEach((scope) => scope.cancel());
      await condition(() => !stopRequested());
    }
  })();
  const rollOver = (target: VfConfig, targets: string[], suffix: string) =>
    rollNodes(
      targets,
      {
        maxUnavailable: input.maxUnavailable,
        beforeNode: async (node) => {
          if ((await controls.checkpoint()) || stopRequested()) return false;
          return input.approval !== 'each-node' || suffix !== '' || (await approve(`node ${node}`));
        },
      },
      (node) => {
        progress.phase = `node ${node}`;
        const scope = new CancellationScope();
        active.add(scope);
        return scope
          .run(() =>
            executeChild(sriovNodeReconfigure, {
              workflowId: `${workflowId}/${node}${suffix}`,
              args: [{ node, numVfs: target.numVfs, policy: input.node }],
            }),
          )
          .then((result) => {
            progress.step(`node ${node}`, 'done', doneMessage(result));
            return result;
          })
          .finally(() => active.delete(scope));
      },
    );

  const rolled = await rollOver(plan.to, nodes, '');
  for (const outcome of rolled.outcomes) {
    const report = reports.get(outcome.node)!;
    if (outcome.ok) {
      // Its progress row was marked done the moment the child finished.
      Object.assign(report, { status: 'changed', message: doneMessage(outcome.result), leftCordoned: outcome.result.cordonedByOthers });
    } else {
      const aborted = isCancellation(outcome.error);
      Object.assign(report, { status: aborted ? 'aborted' : 'failed', message: aborted ? 'interrupted by abort; left as it was (possibly cordoned)' : rootMessage(outcome.error), leftCordoned: true });
      progress.step(`node ${outcome.node}`, 'failed', report.message);
    }
  }
  for (const node of rolled.notStarted) progress.step(`node ${node}`, 'skipped', 'not started');
  const failures = [...reports.values()].filter((r) => r.status === 'failed');

  if (failures.length > 0 && input.rollbackOnFailure) rollbackReason ??= `node ${failures[0]!.node} failed`;
  if (rollbackReason !== undefined) {
    const why = rollbackReason;
    const touched = rolled.outcomes.map((o) => o.node);
    progress.phase = `rolling back: ${why}`;
    rollbackReason = undefined;
    controls.abortReason = undefined;
    const reverted = await applyConfig(plan.from, `${branch}-rollback`, `Revert SR-IOV to ${plan.from.numVfs} VFs, MTU ${plan.from.mtu} (${why})`);
    if (!reverted) return result('aborted', change);
    const back = await rollOver(plan.from, touched, '-rollback');
    for (const outcome of back.outcomes) {
      Object.assign(reports.get(outcome.node)!, outcome.ok
        ? { status: 'rolled-back', message: `rolled back to ${plan.from.numVfs} VFs`, leftCordoned: outcome.result.cordonedByOthers }
        : { status: 'failed', message: `rollback failed: ${rootMessage(outcome.error)}`, leftCordoned: true });
    }
    if (back.outcomes.some((o) => !o.ok)) throw stopped('rollback failed', [...reports.values()]);
    return result('rolled-back', change);
  }
  if (controls.aborted) return result('aborted', change);
  if (failures.length > 0) throw stopped(`node ${failures[0]!.node} failed`, [...reports.values()]);
  return result('completed', change);
}

const doneMessage = (result: SriovNodeResult) =>
  result.uncordoned ? 'reconfigured and uncordoned' : 'reconfigured; cordoned by someone else before, left cordoned';

function stopped(why: string, reports: NodeReport[]) {
  const lines = reports.map((r) => `${r.node}: ${r.status}${r.message ? ` (${r.message})` : ''}${r.leftCordoned ? ' [cordoned]' : ''}`);
  return ApplicationFailure.create({
    type: 'RolloutStopped',
    nonRetryable: true,
    message: `SR-IOV rollout stopped: ${why}\n${lines.join('\n')}`,
    details: [reports],
  });
}
