import { condition, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { MaintenanceNodeInput } from '../schemas/node-maintenance.js';
import { parseWorkflowInput } from '../schemas/validate.js';
import { WATCHES } from './shared/activity-options.js';
import { maintenanceDoneSignal } from './shared/messages.js';
import { NodeSteps } from './shared/node-steps.js';
import type { NodeStepsResult } from './shared/node-steps.js';

const { waitForNode } = proxyActivities<Activities>(WATCHES);

export interface MaintenanceNodeResult extends NodeStepsResult {
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
  const input = parseWorkflowInput(MaintenanceNodeInput, rawInput);
  const { node } = input;
  const steps = new NodeSteps('maintenance-node', node, input.hooks, ['maintenance', 'verify'], input.rebootExpected);
  let done = false;
  setHandler(maintenanceDoneSignal, () => void (done = true));

  await steps.precheck();
  await steps.hook('beforeDrain');
  await steps.drain(input.drainTimeoutSeconds);

  const started = Date.now();
  if (input.until === 'done-signal') {
    await steps.report('maintenance', 'running', `${input.reason}: drained; send the done signal when finished`);
    await condition(() => done);
  } else {
    await steps.report('maintenance', 'running', `${input.reason}: drained for ${input.durationSeconds}s`);
    await condition(() => done, input.durationSeconds! * 1000);
  }
  const maintainedSeconds = Math.round((Date.now() - started) / 1000);
  await steps.report('maintenance', 'done', `${input.reason}: finished after ${maintainedSeconds}s`);

  await steps.run('verify', 'NodeNotReady', async () => {
    // A deleted node would only time the Ready wait out: fail on it at once.
    await steps.sameNode();
    await waitForNode({ node, timeoutSeconds: input.readyTimeoutSeconds, condition: { type: 'Ready', status: 'True' } });
    await steps.sameNode();
  }, () => 'Ready, same node');

  await steps.hook('afterReconfigure');
  await steps.hook('beforeUncordon');
  return { node, maintainedSeconds, ...(await steps.uncordon()) };
}
