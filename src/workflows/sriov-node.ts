import { sleep } from '@temporalio/workflow';
import { proxyRunbookActivities } from './shared/activity-summaries.js';
import type { CordonState } from '../domain/node.js';
import { SRIOV_RESOURCE, SriovNodeInput } from '../schemas/sriov-rollout.js';
import { QUICK_CALLS, WATCHES } from './shared/activity-options.js';
import { hookTargets, inputFixedAtStart, unlessChild } from './shared/input.js';
import { NodeSteps } from './rolling/node-steps.js';
import { FailureType } from '../failures.js';

const RDMA_POLL_MS = 30_000;

const { podsUsingResource, restartDaemonPod } = proxyRunbookActivities(QUICK_CALLS);
const { waitForNode, waitForDaemonPod } = proxyRunbookActivities(WATCHES);

export interface SriovNodeResult extends CordonState {
  node: string;
  numVfs: number;
  restartedPod?: string;
}

/**
 * One node of an SR-IOV rollout: pre-check (no RDMA pods in the way) → [beforeDrain hook] → cordon + drain
 * → restart the node's SR-IOV plugin pod from the new template → verify the advertised VF count →
 * [afterReconfigure, beforeUncordon hooks] → uncordon. A node that fails verification stays cordoned: its
 * VFs are in an unknown state and nothing should be scheduled onto the link.
 */
export async function sriovNodeReconfigure(rawInput: SriovNodeInput): Promise<SriovNodeResult> {
  const { node, numVfs, policy, hooks, drainPods } = await inputFixedAtStart(
    SriovNodeInput,
    rawInput,
    unlessChild((input) => [
      { field: 'input.node', kind: 'Node', name: input.node },
      { field: 'input.policy.daemonSet', kind: 'DaemonSet', ...input.policy.daemonSet },
      ...hookTargets(input.hooks),
    ]),
  );
  const steps = new NodeSteps('sriov-node', node, hooks, ['restart', 'verify']);

  await steps.precheck(async () => {
    const rdmaDeadline = Date.now() + policy.rdmaWaitSeconds * 1000;
    for (;;) {
      const users = await podsUsingResource({ node, resource: SRIOV_RESOURCE });
      if (users.length === 0 || policy.rdmaPods === 'evict') return 'Ready, no RDMA pods in the way';
      const message = `${users.length} pod(s) use ${SRIOV_RESOURCE}: ${users.join(', ')}`;
      if (policy.rdmaPods === 'abort') await steps.fail('precheck', FailureType.RdmaPodsRunning, `${node}: ${message}`);
      if (Date.now() >= rdmaDeadline) await steps.fail('precheck', FailureType.RdmaPodsRunning, `${node}: still ${message} after ${policy.rdmaWaitSeconds}s`);
      await steps.report('precheck', 'running', `waiting: ${message}`);
      await sleep(RDMA_POLL_MS);
    }
  });
  await steps.hook('beforeDrain');
  await steps.drain(policy.drainTimeoutSeconds, drainPods);

  const ds = { namespace: policy.daemonSet.namespace, daemonSet: policy.daemonSet.name, node };
  const restart = await steps.run(
    'restart',
    FailureType.VerificationFailed,
    async () => {
      const restarted = await restartDaemonPod(ds);
      await waitForDaemonPod({ ...ds, generation: restarted.generation, timeoutSeconds: policy.verifyTimeoutSeconds });
      return restarted;
    },
    (r) => (r.restarted ? `restarted ${r.deletedPod}` : 'already on the new template'),
  );
  await steps.run(
    'verify',
    FailureType.VerificationFailed,
    async () => {
      await waitForNode({ node, timeoutSeconds: policy.verifyTimeoutSeconds, allocatable: { resource: SRIOV_RESOURCE, quantity: String(numVfs) } });
      await steps.sameNode();
    },
    () => `${SRIOV_RESOURCE} = ${numVfs}`,
  );

  await steps.hook('afterReconfigure');
  await steps.hook('beforeUncordon');
  return { node, numVfs, restartedPod: restart.deletedPod, ...(await steps.uncordon()) };
}
