import { condition, setHandler } from '@temporalio/workflow';
import { proxyRunbookActivities } from './shared/activity-summaries.js';
import type { CordonState } from '../domain/node.js';
import { MaintenanceNodeInput } from '../schemas/node-maintenance.js';
import { WATCHES } from './shared/activity-options.js';
import { endMaintenanceSignal } from './shared/messages.js';
import { hookTargets, inputFixedAtStart, unlessChild } from './shared/input.js';
import { NodeSteps } from './rolling/node-steps.js';
import { FailureType } from '../failures.js';

const { waitForNode } = proxyRunbookActivities(WATCHES);

export interface MaintenanceNodeResult extends CordonState {
  node: string;
  maintainedSeconds: number;
}

/**
 * One node of a maintenance run: pre-check → [beforeDrain hook] → cordon + drain → hold the node drained
 * until the operator's `done` signal (or a fixed time) while they upgrade Talos or fix hardware → Ready
 * again, and still the same registration (a reboot is fine, a re-registered node is not) →
 * [afterReconfigure, beforeUncordon hooks] → uncordon.
 */
export async function maintenanceNode(rawInput: MaintenanceNodeInput): Promise<MaintenanceNodeResult> {
  const input = await inputFixedAtStart(
    MaintenanceNodeInput,
    rawInput,
    unlessChild(({ node, hooks }) => [{ field: 'input.node', kind: 'Node', name: node }, ...hookTargets(hooks)]),
  );
  const { node } = input;
  const steps = new NodeSteps('maintenance-node', node, input.hooks, ['maintenance', 'verify'], input.rebootExpected);
  let holding = false;
  let done = false;
  // Only while the node is on hold: an early `done` must not cut the next hold short right after its drain.
  setHandler(endMaintenanceSignal, () => void (done ||= holding));

  await steps.precheck();
  await steps.hook('beforeDrain');
  await steps.drain(input.drainTimeoutSeconds, input.drainPods);

  const started = Date.now();
  holding = true;
  if (input.until === 'done-signal') {
    await steps.report('maintenance', 'running', `${input.reason}: drained; send done when finished`);
    await condition(() => done);
  } else {
    await steps.report('maintenance', 'running', `${input.reason}: drained for ${input.durationSeconds}s`);
    await condition(() => done, input.durationSeconds! * 1000);
  }
  holding = false;
  const maintainedSeconds = Math.round((Date.now() - started) / 1000);
  await steps.report('maintenance', 'done', `${input.reason}: finished after ${maintainedSeconds}s`);

  await steps.run(
    'verify',
    FailureType.NodeNotReady,
    async () => {
      // A deleted node would only time the Ready wait out: fail on it at once.
      await steps.sameNode();
      await waitForNode({ node, timeoutSeconds: input.readyTimeoutSeconds, condition: { type: 'Ready', status: 'True' } });
      await steps.sameNode();
    },
    () => 'Ready, same node',
  );

  await steps.hook('afterReconfigure');
  await steps.hook('beforeUncordon');
  return { node, maintainedSeconds, ...(await steps.uncordon()) };
}
