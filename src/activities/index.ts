import type { KubeClients } from './kube/clients.js';
import { createDrainActivities } from './kube/drain.js';
import { createNodeActivities } from './kube/nodes.js';
import { createWaitActivities } from './kube/wait.js';

/** Everything activities talk to, injected so tests and the lab point them at local servers. */
export interface ActivityDeps {
  kube: KubeClients;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createNodeActivities(deps.kube),
    ...createDrainActivities(deps.kube),
    ...createWaitActivities(deps.kube),
  };
}

export type Activities = ReturnType<typeof createActivities>;
