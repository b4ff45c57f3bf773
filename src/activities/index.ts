import { createFluxActivities } from './flux/kustomizations.js';
import { createGitOpsActivities } from './gitops/activities.js';
import type { GitOpsDeps } from './gitops/activities.js';
import type { KubeClients } from './kube/clients.js';
import { createDaemonSetActivities } from './kube/daemonsets.js';
import { createDrainActivities } from './kube/drain.js';
import { createHookActivities } from './kube/hooks.js';
import { createInventoryActivities } from './kube/inventory.js';
import { createNodeActivities } from './kube/nodes.js';
import { createWaitActivities } from './kube/wait.js';
import { createPrometheusActivities } from './metrics/prometheus.js';

/** Everything activities talk to, injected so tests and the lab point them at local servers. */
export interface ActivityDeps {
  kube: KubeClients;
  /** The GitOps repository (and GitHub); absent on a worker that only runs cluster-side operations. */
  gitops?: GitOpsDeps;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createNodeActivities(deps.kube),
    ...createDrainActivities(deps.kube),
    ...createWaitActivities(deps.kube),
    ...createInventoryActivities(deps.kube),
    ...createDaemonSetActivities(deps.kube),
    ...createHookActivities(deps.kube),
    ...createFluxActivities(deps.kube),
    ...createGitOpsActivities(deps.gitops),
    ...createPrometheusActivities(),
  };
}

export type Activities = ReturnType<typeof createActivities>;
