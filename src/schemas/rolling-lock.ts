import { nodeMaintenanceId } from './node-maintenance.js';
import { sriovRolloutId } from './sriov-rollout.js';

/** The workflow ids of every rolling operation on a cluster: each is one operation's lock. */
export const rollingOperationIds = (cluster: string) => [sriovRolloutId(cluster), nodeMaintenanceId(cluster)];
