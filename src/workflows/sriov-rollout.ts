import { ApplicationFailure, condition, executeChild, workflowInfo } from '@temporalio/workflow';
import { proxyRunbookActivities } from './shared/activity-summaries.js';
import type { VfConfig } from '../domain/sriov-config.js';
import { FailureType } from '../failures.js';
import { SRIOV_RESOURCE, SriovRolloutInput } from '../schemas/sriov-rollout.js';
import { RollingRun } from './rolling/run.js';
import type { NodeReport as RollingNodeReport } from './rolling/run.js';
import { QUICK_CALLS, WATCHES } from './shared/activity-options.js';
import { badReason, handleCommand } from './shared/commands.js';
import { approveCommand, rollbackCommand } from './shared/messages.js';
import { hookTargets, inputFixedAtStart, nodeTargets } from './shared/input.js';
import { sriovNodeMetadata, sriovNodePlan } from '../schemas/run-metadata.js';
import { sriovNodeReconfigure } from './sriov-node.js';

const MERGE_POLL = '30 seconds';

// Cloning the GitOps repo on a fresh worker can take longer than a quick call.
const { listNodes, readVfConfig, proposeVfChange, getPullRequest, requestReconcile } = proxyRunbookActivities({
  ...QUICK_CALLS,
  startToCloseTimeout: '5 minutes',
});
const { waitForAppliedRevision } = proxyRunbookActivities(WATCHES);

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
 * (a command, or input on failure) reverts the Git change and rolls the changed nodes back the same way.
 */
export async function sriovRollout(rawInput: SriovRolloutInput): Promise<SriovRolloutResult> {
  // Looked up before the lock is taken, a dry run's included: otherwise an unknown Kustomization shows only
  // after the Git change, and an unknown DaemonSet after the first node's cordon and drain.
  const input = await inputFixedAtStart(SriovRolloutInput, rawInput, ({ nodes, hooks, gitops, node }) => [
    ...nodeTargets(nodes ?? []),
    ...hookTargets(hooks),
    { field: 'input.gitops.kustomization', kind: 'Kustomization', ...gitops.kustomization },
    { field: 'input.node.daemonSet', kind: 'DaemonSet', ...node.daemonSet },
  ]);
  let rollbackReason: string | undefined;
  let rollingBack = false;
  const run = new RollingRun<'changed' | 'rolled-back'>({
    operation: 'sriov-rollout',
    title: 'SR-IOV rollout',
    cluster: input.cluster,
    policy: input,
    dryRun: input.dryRun,
    steps: ['approval', 'git', 'merge', 'flux'],
    // A rollback request stops the forward pass; the rollback pass itself stops only on abort.
    alsoStopWhen: () => rollbackReason !== undefined && !rollingBack,
  });
  const { progress, controls } = run;
  let awaiting: string | undefined;
  let approvals = 0;
  handleCommand(approveCommand, {
    reject: () => (awaiting ? undefined : `nothing is waiting for approval (the run is ${progress.snapshot().phase})`),
    apply: () => {
      approvals += 1;
      return `approved ${awaiting}`;
    },
  });
  handleCommand(rollbackCommand, {
    reject: (reason) =>
      controls.aborted
        ? `the run is aborting (${controls.abortReason}): nothing will be rolled back`
        : rollbackReason !== undefined
          ? `already rolling back (${rollbackReason})`
          : badReason(reason),
    apply: (reason) => {
      rollbackReason = reason || 'requested by operator';
      return `rolling back: ${rollbackReason}`;
    },
  });

  return run.execute(async () => {
    // Plan
    const facts = await listNodes(input.nodes ? { names: input.nodes } : { selector: input.nodeSelector });
    const nodes = input.nodes ?? facts.map((n) => n.name);
    if (nodes.length === 0) throw ApplicationFailure.nonRetryable(`no node matches ${input.nodeSelector}`, FailureType.NoNodes);
    const current = await readVfConfig({ path: input.gitops.path });
    const from = current.config;
    const to = { numVfs: input.numVfs, mtu: input.mtu };
    const plan: RolloutPlan = {
      nodes,
      notReady: facts.filter((n) => n.conditions.Ready !== 'True').map((n) => n.name),
      from,
      to,
      gitops: { mode: input.gitops.mode, path: input.gitops.path, baseCommit: current.commit },
      maxUnavailable: input.maxUnavailable,
      steps: run.planNodes(
        nodes,
        sriovNodePlan(input.node, input.numVfs),
        `${nodes.join(', ')}: ${from.numVfs} → ${to.numVfs} VFs, MTU ${from.mtu} → ${to.mtu}`,
      ),
    };
    const result = (outcome: SriovRolloutResult['outcome'], change?: SriovRolloutResult['change']): SriovRolloutResult => ({
      ...run.result(outcome),
      plan,
      change,
    });
    if (input.dryRun) return { ...run.planned(), plan };

    const approve = async (what: string): Promise<boolean> => {
      progress.phase = `awaiting approval: ${what}`;
      awaiting = what;
      const wanted = approvals + 1;
      await condition(() => approvals >= wanted || run.stopRequested());
      awaiting = undefined;
      return !run.stopRequested();
    };
    if (input.approval === 'once') {
      progress.step('approval', 'running', 'send approve to start');
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
      progress.step(
        'git',
        'done',
        change.pullRequest
          ? `pull request #${change.pullRequest.number} ${change.pullRequest.url}`
          : change.changed
            ? `pushed ${change.commit}`
            : 'already in Git',
      );
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
        if (pull.state === 'closed') throw ApplicationFailure.nonRetryable(`pull request #${number} was closed without merging`, FailureType.PullRequestClosed);
        if (Date.now() >= deadline) throw ApplicationFailure.nonRetryable(`pull request #${number} not merged in time`, FailureType.MergeTimedOut);
        if (await condition(run.stopRequested, MERGE_POLL)) return undefined;
      }
    };

    const branch = `cluster-ops/sriov-${input.numVfs}vfs-${workflowInfo().runId.slice(0, 8)}`;
    const change = await applyConfig(to, branch, `SR-IOV: ${to.numVfs} VFs, MTU ${to.mtu} on ${input.cluster}`);
    if (!change) return result(rollbackReason !== undefined && !controls.aborted ? 'rolled-back' : 'aborted');

    // Node by node. Abort or rollback cancels the node in progress (its drain stops; the node stays cordoned).
    const rollOver = (target: VfConfig, targets: string[], suffix: string, status: 'changed' | 'rolled-back') =>
      run.roll(targets, {
        succeeded: () => ({ status, message: `${status === 'changed' ? 'reconfigured' : 'rolled back'} to ${target.numVfs} VFs` }),
        stillHolds: () => ({ condition: { type: 'Ready', status: 'True' }, allocatable: { resource: SRIOV_RESOURCE, quantity: String(target.numVfs) } }),
        approve: input.approval === 'each-node' && suffix === '' ? (node) => approve(`node ${node}`) : undefined,
        runNode: (node) =>
          executeChild(sriovNodeReconfigure, {
            workflowId: run.childId(node, suffix),
            args: [{ node, numVfs: target.numVfs, policy: input.node, hooks: input.hooks, drainPods: input.drainPods }],
            ...sriovNodeMetadata({ node, numVfs: target.numVfs, policy: input.node, hooks: input.hooks, drainPods: input.drainPods }),
          }),
      });

    const stopReason = await rollOver(to, nodes, '', 'changed');
    if (stopReason && input.rollbackOnFailure && !controls.aborted) rollbackReason ??= stopReason;
    if (rollbackReason !== undefined && !controls.aborted) {
      rollingBack = true;
      progress.phase = `rolling back: ${rollbackReason}`;
      const reverted = await applyConfig(from, `${branch}-rollback`, `Revert SR-IOV to ${from.numVfs} VFs, MTU ${from.mtu} (${rollbackReason})`);
      if (!reverted) return result('aborted', change);
      const backFailed = await rollOver(from, run.touched(), '-rollback', 'rolled-back');
      if (backFailed) throw run.stopped(`rollback failed: ${backFailed}`);
      return result(controls.aborted ? 'aborted' : 'rolled-back', change);
    }
    if (controls.aborted) return result('aborted', change);
    if (stopReason) throw run.stopped(stopReason);
    return result('completed', change);
  });
}
