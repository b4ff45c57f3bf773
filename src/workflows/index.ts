// Every workflow the worker registers; one file each.
export { bootstrapCluster } from './bootstrap-cluster.js';
export { bootstrapNode } from './bootstrap-node.js';
export { drainNode } from './drain-node.js';
export { maintenanceNode } from './maintenance-node.js';
export { nodeMaintenance } from './node-maintenance.js';
export { ncclJob } from './nccl-job.js';
export { sriovNodeReconfigure } from './sriov-node.js';
export { sriovRollout } from './sriov-rollout.js';
export { rotateOidcClient } from './rotate-oidc-client.js';
export { rotateOidcSecrets } from './rotate-oidc-secrets.js';
