import {
  ApplicationFailure,
  executeChild,
  getExternalWorkflowHandle,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { SriovNodeInput } from '../schemas/sriov-rollout.js';
import { parseWorkflowInput } from '../schemas/validate.js';
import { drainNode } from './drain-node.js';
import { nodeProgressSignal, progressQuery } from './shared/messages.js';
import type { NodeProgressUpdate } from './shared/messages.js';
import { QUICK_CALLS, WATCHES } from './shared/activity-options.js';
import { rootMessage } from './shared/failures.js';
import { ProgressTracker } from './shared/progress.js';

export const SRIOV_RESOURCE = 'nvidia.com/cx7_qsfp';
const RDMA_POLL_MS = 30_000;
const READY_TIMEOUT_S = 120;
export const VERIFICATION_FAILED = 'VerificationFailed';

const { podsUsingResource, restartDaemonPod, uncordonNode } = proxyActivities<Activities>(QUICK_CALLS);
const { waitForNode, waitForDaemonPod } = proxyActivities<Activities>(WATCHES);

export interface SriovNodeResult {
  node: string;
  numVfs: number;
  cordonedByOthers: boolean;
  uncordoned: boolean;
  restartedPod?: string;
}

const STEPS = ['precheck', 'drain', 'restart', 'verify', 'uncordon'] as const;
type Step = (typeof STEPS)[number];


/**
 * One node of an SR-IOV rollout: pre-check → cordon + drain → restart the node's SR-IOV plugin pod from
 * the new template → verify the advertised VF count → uncordon. A node that fails verification stays
 * cordoned: its VFs are in an unknown state and nothing should be scheduled onto the link.
 */
export async function sriovNodeReconfigure(rawInput: SriovNodeInput): Promise<SriovNodeResult> {
  const { node, numVfs, policy } = parseWorkflowInput(SriovNodeInput, rawInput);
  const info = workflowInfo();
  const owner = info.parent?.workflowId ?? info.workflowId;
  const parent = info.parent ? getExternalWorkflowHandle(info.parent.workflowId, info.parent.runId) : undefined;
  const progress = new ProgressTracker('sriov-node', [...STEPS]);
  setHandler(progressQuery, () => progress.snapshot());
  const report = async (step: Step, phase: NodeProgressUpdate['phase'], message?: string) => {
    progress.step(step, phase, message);
    progress.phase = `${step}: ${phase}`;
    await parent?.signal(nodeProgressSignal, { node, step, phase, message });
  };
  const fail = async (step: Step, type: string, message: string): Promise<never> => {
    await report(step, 'failed', message);
    throw ApplicationFailure.nonRetryable(message, type);
  };

  await report('precheck', 'running');
  await waitForNode({ node, timeoutSeconds: READY_TIMEOUT_S, condition: { type: 'Ready', status: 'True' } }).catch((error) =>
    fail('precheck', 'NodeNotReady', `${node} is not Ready: ${rootMessage(error)}`),
  );
  const rdmaDeadline = Date.now() + policy.rdmaWaitSeconds * 1000;
  for (;;) {
    const users = await podsUsingResource({ node, resource: SRIOV_RESOURCE });
    if (users.length === 0 || policy.rdmaPods === 'evict') break;
    const message = `${users.length} pod(s) use ${SRIOV_RESOURCE}: ${users.join(', ')}`;
    if (policy.rdmaPods === 'abort') await fail('precheck', 'RdmaPodsRunning', `${node}: ${message}`);
    if (Date.now() >= rdmaDeadline) await fail('precheck', 'RdmaPodsRunning', `${node}: still ${message} after ${policy.rdmaWaitSeconds}s`);
    await report('precheck', 'running', `waiting: ${message}`);
    await sleep(RDMA_POLL_MS);
  }
  await report('precheck', 'done', 'Ready, no RDMA pods in the way');

  await report('drain', 'running');
  const drained = await executeChild(drainNode, {
    workflowId: `${info.workflowId}/drain`,
    args: [{ node, owner, timeoutSeconds: policy.drainTimeoutSeconds }],
  }).catch((error) => fail('drain', 'DrainFailed', `${node}: ${rootMessage(error)}`));
  await report('drain', 'done', `${drained.lastPass?.evicted.length ?? 0} evicted in the last pass${drained.cordonedByOthers ? '; was already cordoned by someone else' : ''}`);

  await report('restart', 'running');
  const ds = { namespace: policy.daemonSet.namespace, daemonSet: policy.daemonSet.name, node };
  const restart = await restartDaemonPod(ds);
  await waitForDaemonPod({ ...ds, generation: restart.generation, timeoutSeconds: policy.verifyTimeoutSeconds }).catch((error) =>
    fail('restart', VERIFICATION_FAILED, `${node} stays cordoned: the SR-IOV plugin pod did not come back: ${rootMessage(error)}`),
  );
  await report('restart', 'done', restart.restarted ? `restarted ${restart.deletedPod}` : 'already on the new template');

  await report('verify', 'running');
  await waitForNode({ node, timeoutSeconds: policy.verifyTimeoutSeconds, allocatable: { resource: SRIOV_RESOURCE, quantity: String(numVfs) } }).catch(
    (error) => fail('verify', VERIFICATION_FAILED, `${node} stays cordoned: ${rootMessage(error)}`),
  );
  await report('verify', 'done', `${SRIOV_RESOURCE} = ${numVfs}`);

  let uncordoned = false;
  if (drained.cordonedByOthers) {
    await report('uncordon', 'skipped', 'cordoned by someone else before the rollout: left cordoned');
  } else {
    await report('uncordon', 'running');
    const result = await uncordonNode({ node, owner });
    uncordoned = result.uncordoned;
    await report('uncordon', 'done', result.reason);
  }
  return { node, numVfs, cordonedByOthers: drained.cordonedByOthers, uncordoned, restartedPod: restart.deletedPod };
}
