import { CancellationScope, ContinueAsNew, workflowInfo } from '@temporalio/workflow';
import { proxyRunbookActivities } from '../shared/activity-summaries.js';
import { asRunFailure, FailureType } from '../../failures.js';
import { QUICK_CALLS } from '../shared/activity-options.js';

const { acquireRollingLock, releaseRollingLock } = proxyRunbookActivities(QUICK_CALLS);

/**
 * One rolling operation per cluster, whatever its kind: the run holds the cluster's Lease (a Kubernetes
 * Lease taken with create or a resourceVersion-guarded update, so the API server decides every race) for as
 * long as `body` runs, and lets it go however the run ends (success, failure, abort, cancellation). A run
 * that never got to let go (terminated) is taken over by the next one, which finds its holder closed.
 * A refused run fails with ClusterBusy, naming the holder's workflow id. A run that continues as new keeps
 * the Lease: the next run of the same workflow id takes it over from its predecessor.
 */
export async function withClusterLock<T>(cluster: string, operation: string, body: () => Promise<T>): Promise<T> {
  const { workflowId, runId, continuedFromExecutionRunId } = workflowInfo();
  await acquireRollingLock({ cluster, holder: workflowId, runId, operation, continuedFrom: continuedFromExecutionRunId }).catch((error: unknown) => {
    throw asRunFailure(error, [FailureType.ClusterBusy]);
  });
  let continuing = false;
  try {
    return await body();
  } catch (error) {
    continuing = error instanceof ContinueAsNew;
    throw error;
  } finally {
    if (!continuing) await CancellationScope.nonCancellable(() => releaseRollingLock({ cluster, holder: workflowId, runId }));
  }
}
