import { continueAsNew, executeChild, getExternalWorkflowHandle } from '@temporalio/workflow';
import { proxyRunbookActivities } from './shared/activity-summaries.js';
import { NodeMaintenanceInput } from '../schemas/node-maintenance.js';
import { maintenanceNode } from './maintenance-node.js';
import type { MaintenanceNodeResult } from './maintenance-node.js';
import { RollingRun } from './rolling/run.js';
import type { NodeReport, RollingCarry } from './rolling/run.js';
import { QUICK_CALLS } from './shared/activity-options.js';
import { handleCommand } from './shared/commands.js';
import { endMaintenanceSignal, maintenanceDoneCommand } from './shared/messages.js';
import { hookTargets, inputFixedAtStart, nodeTargets } from './shared/input.js';
import { maintenanceNodeMetadata, maintenanceNodePlan } from '../schemas/run-metadata.js';

const { listNodes } = proxyRunbookActivities(QUICK_CALLS);

export interface NodeMaintenanceResult {
  outcome: 'planned' | 'completed' | 'aborted';
  plan: { nodes: string[]; reason: string; steps: Record<string, string[]> };
  nodes: NodeReport<'maintained'>[];
}

/**
 * Node maintenance, node by node (a manual Talos upgrade, a hardware fix): per node, as a child workflow,
 * cordon and drain, hold the node until the operator sends `done` (or a set time passes), check it is
 * Ready and the same node, uncordon; with the rolling options (hooks, settle, health gate, window). `done`
 * goes to this run, naming the node (or not, when only one node is on hold); it is rejected for a node
 * that is not on hold now. A fleet-sized run continues as new past `historyEventsPerRun` events; `continued`
 * is what the runs before it did (nothing for a run a person starts).
 */
export async function nodeMaintenance(rawInput: NodeMaintenanceInput, continued?: RollingCarry<'maintained'>): Promise<NodeMaintenanceResult> {
  // Looked up before the lock is taken, a dry run's included.
  const input = await inputFixedAtStart(NodeMaintenanceInput, rawInput, ({ nodes, hooks }) => [...nodeTargets(nodes), ...hookTargets(hooks)]);
  const { nodes } = input;
  const onHold = new Set<string>();
  const ending = new Set<string>();
  const run = new RollingRun<'maintained'>({
    operation: 'node-maintenance',
    title: 'node maintenance',
    cluster: input.cluster,
    policy: input,
    dryRun: input.dryRun,
    steps: [],
    historyEventsPerRun: input.historyEventsPerRun,
    continued,
    onNodeProgress: ({ node, step, phase }) => {
      if (step !== 'maintenance') return;
      if (phase === 'running') onHold.add(node);
      else onHold.delete(node);
    },
  });
  handleCommand(maintenanceDoneCommand, {
    reject: (node) => {
      if (node !== undefined && typeof node !== 'string') return 'the node must be a name';
      if (node === undefined)
        return onHold.size === 1 ? undefined : onHold.size === 0 ? 'no node is on hold now' : `name the node: ${[...onHold].join(', ')} are on hold`;
      if (!nodes.includes(node)) return `${node} is not in this run (${nodes.join(', ')})`;
      if (ending.has(node)) return `done was already sent for ${node}`;
      return onHold.has(node) ? undefined : `${node} is not on hold now`;
    },
    apply: (node) => {
      const target = node ?? [...onHold][0]!;
      ending.add(target);
      // A child that finished meanwhile has nothing left to end.
      void getExternalWorkflowHandle(run.childId(target))
        .signal(endMaintenanceSignal)
        .catch(() => undefined);
      return `ending the maintenance of ${target}`;
    },
  });

  return run.execute(async () => {
    await listNodes({ names: nodes });
    const plan = { nodes, reason: input.reason, steps: run.planNodes(nodes, maintenanceNodePlan(input), `${input.reason} on ${nodes.join(', ')}`) };
    if (input.dryRun) return { ...run.planned(), plan };

    const stopReason = await run.roll<MaintenanceNodeResult>(nodes, {
      succeeded: (r) => ({ status: 'maintained', message: `maintained for ${r.maintainedSeconds}s${r.uncordoned ? ', uncordoned' : ''}` }),
      stillHolds: () => ({ condition: { type: 'Ready', status: 'True' } }),
      runNode: (node) => {
        const child = {
          node,
          reason: input.reason,
          until: input.until,
          durationSeconds: input.durationSeconds,
          rebootExpected: input.rebootExpected,
          drainTimeoutSeconds: input.drainTimeoutSeconds,
          readyTimeoutSeconds: input.readyTimeoutSeconds,
          hooks: input.hooks,
          drainPods: input.drainPods,
        };
        return executeChild(maintenanceNode, { workflowId: run.childId(node), args: [child], ...maintenanceNodeMetadata(child) });
      },
    });
    if (run.controls.aborted) return { ...run.result('aborted'), plan };
    if (stopReason) throw run.stopped(stopReason);
    // Inside the lock: the next run of this workflow id takes the Lease over from this one.
    if (run.rolledOver) await continueAsNew<typeof nodeMaintenance>(rawInput, run.carry());
    return { ...run.result('completed'), plan };
  });
}
