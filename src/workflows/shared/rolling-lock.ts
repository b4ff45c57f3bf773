import { ApplicationFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import { rollingOperationIds } from '../../schemas/rolling-lock.js';
import { QUICK_CALLS } from './activity-options.js';

const CLUSTER_BUSY = 'ClusterBusy';
const { runningWorkflows } = proxyActivities<Activities>(QUICK_CALLS);

/**
 * One rolling operation per cluster: each operation's workflow id is its own lock, and a run also refuses
 * to start while another operation's run on the cluster is in progress. (Two different operations started
 * in the same instant can both pass this check: the ids are separate, so Temporal cannot refuse one.)
 */
export async function refuseWhileOtherRollingRuns(cluster: string): Promise<void> {
  const others = rollingOperationIds(cluster).filter((id) => id !== workflowInfo().workflowId);
  const running = await runningWorkflows({ ids: others });
  if (running.length > 0) {
    throw ApplicationFailure.nonRetryable(`${cluster} is busy: ${running.join(', ')} is in progress; one rolling operation per cluster`, CLUSTER_BUSY);
  }
}
