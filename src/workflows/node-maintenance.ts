import { ApplicationFailure, condition, proxyActivities, setHandler, startChild, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { unmetExpectations } from '../domain/node.js';
import { planNodeSteps } from '../domain/rolling-plan.js';
import { NodeMaintenanceInput, nodeMaintenanceId } from '../schemas/node-maintenance.js';
import { parseWorkflowInput } from '../schemas/validate.js';
import { maintenanceNode } from './maintenance-node.js';
import type { MaintenanceNodeResult } from './maintenance-node.js';
import { QUICK_CALLS } from './shared/activity-options.js';
import { OperatorControls } from './shared/controls.js';
import { maintenanceDoneSignal, nodeProgressSignal, progressQuery } from './shared/messages.js';
import { ProgressTracker } from './shared/progress.js';
import { finishReports, recordOutcome, rollingStopped } from './shared/rolling.js';
import type { NodeReport } from './shared/rolling.js';
import { RollingGates, rollWithGates } from './shared/rolling-gates.js';
import { refuseWhileOtherRollingRuns } from './shared/rolling-lock.js';
import { NODES_ATTRIBUTE, OPERATION_ATTRIBUTE } from './shared/search-attributes.js';

const { listNodes } = proxyActivities<Activities>(QUICK_CALLS);

export interface NodeMaintenanceResult {
  outcome: 'planned' | 'completed' | 'aborted';
  plan: { nodes: string[]; reason: string; steps: Record<string, string[]> };
  nodes: NodeReport<'maintained'>[];
}

/**
 * Node maintenance, node by node (a manual Talos upgrade, a hardware fix): per node, as a child workflow,
 * cordon and drain, hold the node until the operator sends `done` (or a set time passes), check it is
 * Ready and the same node, uncordon; with the rolling options (hooks, settle, health gate, window). The
 * `done` signal goes to this run, naming the node (or not, when only one node is in maintenance).
 */
export async function nodeMaintenance(rawInput: NodeMaintenanceInput): Promise<NodeMaintenanceResult> {
  const input = parseWorkflowInput(NodeMaintenanceInput, rawInput);
  const { workflowId } = workflowInfo();
  const lock = nodeMaintenanceId(input.cluster);
  if (workflowId !== lock && !input.dryRun) {
    throw ApplicationFailure.nonRetryable(`start this run with workflow id ${lock}: one maintenance run per cluster`, 'WrongWorkflowId');
  }
  const { nodes } = input;
  const progress = new ProgressTracker('node-maintenance', ['plan', ...nodes.map((n) => `node ${n}`)]);
  setHandler(progressQuery, () => progress.snapshot());
  const controls = new OperatorControls(progress);
  const inMaintenance = new Set<string>();
  const doneFor = new Set<string>();
  setHandler(nodeProgressSignal, ({ node, step, phase, message }) => {
    progress.step(`node ${node}`, phase === 'failed' ? 'failed' : 'running', `${step}: ${message ?? phase}`);
    if (step === 'maintenance' && phase === 'running') inMaintenance.add(node);
    if (step === 'maintenance' && phase !== 'running') inMaintenance.delete(node);
  });
  setHandler(maintenanceDoneSignal, (node) => {
    const target = node ?? (inMaintenance.size === 1 ? [...inMaintenance][0] : undefined);
    if (target) doneFor.add(target);
  });
  const stopRequested = () => controls.aborted;
  const gates = new RollingGates(input, nodes, progress, stopRequested);

  progress.step('plan', 'running');
  if (!input.dryRun) await refuseWhileOtherRollingRuns(input.cluster);
  await listNodes({ names: nodes });
  const plan = {
    nodes,
    reason: input.reason,
    steps: Object.fromEntries(
      nodes.map((node, i) => [
        node,
        planNodeSteps({
          precheck: 'Ready',
          drainTimeoutSeconds: input.drainTimeoutSeconds,
          ownSteps: [
            input.until === 'done-signal' ? `${input.reason}: wait for the done signal` : `${input.reason}: wait ${input.durationSeconds}s`,
            `verify Ready within ${input.readyTimeoutSeconds}s, same node${input.rebootExpected ? ' (a reboot is expected)' : ', not rebooted'}`,
          ],
          hooks: input.hooks,
          gates: gates.describe(),
          last: i === nodes.length - 1,
        }),
      ]),
    ),
  };
  upsertSearchAttributes([
    { key: OPERATION_ATTRIBUTE, value: 'node-maintenance' },
    { key: NODES_ATTRIBUTE, value: nodes },
  ]);
  progress.step('plan', 'done', `${input.reason} on ${nodes.join(', ')}`);
  const reports = new Map<string, NodeReport<'maintained'>>(nodes.map((node) => [node, { node, status: 'not-started', message: '', leftCordoned: false }]));
  const result = (outcome: NodeMaintenanceResult['outcome']): NodeMaintenanceResult => {
    progress.phase = outcome;
    return { outcome, plan, nodes: [...reports.values()] };
  };
  if (input.dryRun) {
    for (const node of nodes) progress.step(`node ${node}`, 'skipped', 'dry run');
    return result('planned');
  }

  const rolled = await rollWithGates<MaintenanceNodeResult>(
    nodes,
    {
      maxUnavailable: input.maxUnavailable,
      gates,
      controls,
      stopRequested,
      onOutcome: (outcome) =>
        recordOutcome(reports, outcome, progress, (r) => ({ status: 'maintained', message: `maintained for ${r.maintainedSeconds}s${r.uncordoned ? ', uncordoned' : ''}` })),
      stillVerified: async (node) => {
        const [facts] = await listNodes({ names: [node] });
        return unmetExpectations(facts!, { condition: { type: 'Ready', status: 'True' } });
      },
    },
    async (node) => {
      progress.phase = `node ${node}`;
      const child = await startChild(maintenanceNode, {
        workflowId: `${workflowId}/${node}`,
        args: [{ node, reason: input.reason, until: input.until, durationSeconds: input.durationSeconds, rebootExpected: input.rebootExpected, drainTimeoutSeconds: input.drainTimeoutSeconds, readyTimeoutSeconds: input.readyTimeoutSeconds, hooks: input.hooks }],
      });
      void condition(() => doneFor.has(node)).then(() => child.signal(maintenanceDoneSignal).catch(() => undefined));
      return child.result();
    },
  );
  const stopReason = finishReports(reports, rolled, progress, await gates.cordonedNow());
  if (controls.aborted) return result('aborted');
  if (stopReason) throw rollingStopped('node maintenance', stopReason, [...reports.values()]);
  return result('completed');
}
