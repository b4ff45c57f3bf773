import type { ActivityOptions } from '@temporalio/workflow';

/** Short calls to the cluster, Git or GitHub: idempotent, so retried a few times. */
export const QUICK_CALLS: ActivityOptions = { startToCloseTimeout: '2 minutes', retry: { maximumAttempts: 5 } };

/**
 * Watches that wait as long as their own timeoutSeconds says: they heartbeat, so a dead worker is noticed
 * within a minute and the wait resumes on another.
 */
export const WATCHES: ActivityOptions = { startToCloseTimeout: '25 hours', heartbeatTimeout: '1 minute', retry: { maximumAttempts: 3 } };
