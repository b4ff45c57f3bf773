import { ApplicationFailure, isCancellation, workflowInfo } from '@temporalio/workflow';
import { proxyRunbookActivities } from './shared/activity-summaries.js';
import { inventoryMismatches } from '../domain/node.js';
import { BootstrapNodeInput } from '../schemas/node-inventory.js';
import { QUICK_CALLS, WATCHES } from './shared/activity-options.js';
import { FailureType, rootMessage } from '../failures.js';
import { OperatorControls } from './shared/controls.js';
import { ProgressTracker } from './shared/progress.js';
import { inputFixedAtStart } from './shared/input.js';

const { readNodeInventory, listNodes, cordonNode, uncordonNode } = proxyRunbookActivities(QUICK_CALLS);
const { waitForNode, waitForDaemonPod } = proxyRunbookActivities(WATCHES);

export interface BootstrapNodeResult {
  node: string;
  /** aborted: stopped by the operator, the node left as it was (cordoned, if this run had cordoned it). */
  outcome: 'in-service' | 'aborted';
  nodeClass: string;
  agents: string[];
  allocatable: Record<string, string>;
  uncordoned: boolean;
}

/**
 * A (re)joined node, brought into service: wait for it to register and turn Ready, keep it cordoned,
 * check it against the inventory (class, arch, labels), wait for its agents in order (CNI first, then
 * device plugins), verify what it advertises (GPUs, RDMA VFs), then uncordon. Any failure leaves it
 * cordoned, so nothing lands on a half-ready node.
 */
export async function bootstrapNode(rawInput: BootstrapNodeInput): Promise<BootstrapNodeResult> {
  const input = await inputFixedAtStart(BootstrapNodeInput, rawInput);
  const { node } = input;
  const owner = workflowInfo().workflowId;
  const progress = new ProgressTracker('bootstrap-node', ['inventory', 'ready', 'cordon', 'labels']);
  const controls = new OperatorControls(progress);
  /** Pause holds the next step; abort stops the step in progress (its wait is cancelled) and ends the run. */
  const step = async <T>(name: string, message: string, work: () => Promise<T>, done: (value: T) => string): Promise<T> => {
    if (await controls.checkpoint()) throw new Aborted();
    progress.phase = name;
    progress.step(name, 'running', message);
    try {
      const value = await controls.untilAborted(work);
      progress.step(name, 'done', done(value));
      return value;
    } catch (error) {
      if (controls.aborted && isCancellation(error)) {
        progress.step(name, 'skipped', `aborted: ${controls.abortReason}`);
        throw new Aborted();
      }
      progress.step(name, 'failed', rootMessage(error));
      throw ApplicationFailure.nonRetryable(`${node} ${name}: ${rootMessage(error)} (node left cordoned if it was)`, FailureType.BootstrapNodeFailed);
    }
  };

  try {
    return await bringIntoService();
  } catch (error) {
    if (!(error instanceof Aborted)) throw error;
    progress.skipPending(`aborted: ${controls.abortReason}`);
    progress.phase = 'aborted';
    return { node, outcome: 'aborted', nodeClass: '', agents: [], allocatable: {}, uncordoned: false };
  }

  async function bringIntoService(): Promise<BootstrapNodeResult> {
    const inventory = await step(
      'inventory',
      input.inventoryPath,
      () => readNodeInventory({ path: input.inventoryPath }),
      () => 'read',
    );
    const className = inventory.nodes[node];
    const nodeClass = className ? inventory.classes[className] : undefined;
    if (!className || !nodeClass) {
      throw ApplicationFailure.nonRetryable(`input.node: ${node} is not in ${input.inventoryPath} (or its class is missing)`, FailureType.UnknownNode);
    }
    for (const ds of nodeClass.daemonSets) progress.addStep(`agent ${ds}`);
    progress.addStep('allocatable');
    progress.addStep('uncordon');

    await step(
      'ready',
      'waiting for the node to register and turn Ready',
      () => waitForNode({ node, timeoutSeconds: input.readyTimeoutSeconds, condition: { type: 'Ready', status: 'True' } }),
      () => 'Ready',
    );
    const cordon = await step(
      'cordon',
      'kept out of scheduling until verified',
      () => cordonNode({ node, owner }),
      (r) => (r.cordonedByOthers ? 'was already cordoned by someone else' : 'cordoned'),
    );
    await step(
      'labels',
      `class ${className}`,
      async () => {
        const [facts] = await listNodes({ names: [node] });
        const mismatches = inventoryMismatches(facts!, nodeClass);
        if (mismatches.length) throw new Error(mismatches.join('; '));
      },
      () => `matches class ${className}`,
    );

    for (const ds of nodeClass.daemonSets) {
      const [namespace, name] = ds.split('/') as [string, string];
      await step(
        `agent ${ds}`,
        'waiting for its pod to be Ready',
        () => waitForDaemonPod({ namespace, daemonSet: name, node, timeoutSeconds: input.agentTimeoutSeconds }),
        (r) => `${r.pod} Ready`,
      );
    }
    await step(
      'allocatable',
      Object.entries(nodeClass.allocatable)
        .map(([k, v]) => `${k}=${v}`)
        .join(', '),
      async () => {
        for (const [resource, quantity] of Object.entries(nodeClass.allocatable)) {
          await waitForNode({ node, timeoutSeconds: input.agentTimeoutSeconds, allocatable: { resource, quantity } });
        }
      },
      () => 'as in the inventory',
    );

    let uncordoned = false;
    if (cordon.cordonedByOthers) {
      progress.step('uncordon', 'skipped', 'cordoned by someone else before: left cordoned');
    } else {
      uncordoned = (
        await step(
          'uncordon',
          '',
          () => uncordonNode({ node, owner }),
          (r) => r.reason,
        )
      ).uncordoned;
    }
    progress.phase = 'in service';
    return { node, outcome: 'in-service', nodeClass: className, agents: nodeClass.daemonSets, allocatable: nodeClass.allocatable, uncordoned };
  }
}

/** Thrown out of a step when the operator aborts: the run ends there, reporting where it stopped. */
class Aborted extends Error {}
