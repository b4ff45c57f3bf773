import { createExternalSecretActivities } from './eso/external-secrets.js';
import { createFluxActivities } from './flux/kustomizations.js';
import { createGitOpsActivities } from './gitops/activities.js';
import type { GitOpsDeps } from './gitops/activities.js';
import { createInfisicalActivities } from './infisical/secrets.js';
import { createInputTargetActivities } from './input-targets.js';
import type { InfisicalDeps } from './infisical/secrets.js';
import type { KeycloakDeps } from './keycloak/admin.js';
import { createOidcRotationActivities } from './keycloak/rotation.js';
import type { KubeClients } from './kube/clients.js';
import { withApiMessages } from './kube/clients.js';
import { createDaemonSetActivities } from './kube/daemonsets.js';
import { createDrainActivities } from './kube/drain.js';
import { createHookActivities } from './kube/hooks.js';
import { createInventoryActivities } from './kube/inventory.js';
import { createRollingLockActivities, DEFAULT_LEASE_NAMESPACE } from './kube/lease.js';
import { createNodeActivities } from './kube/nodes.js';
import { createRolloutActivities } from './kube/rollout.js';
import { createWaitActivities } from './kube/wait.js';
import { createPrometheusActivities } from './metrics/prometheus.js';
import { createInputActivities } from './temporal/input.js';
import { createMetricsActivities } from './metrics/victoria-metrics.js';
import { createNcclJobActivities } from './nccl/jobs.js';
import { createQuarantineActivities } from './nccl/quarantine.js';
import type { MetricsDeps } from './metrics/victoria-metrics.js';

/** Everything activities talk to, injected so tests and the lab point them at local servers. */
export interface ActivityDeps {
  kube: KubeClients;
  /** The GitOps repository (and GitHub); absent on a worker that only runs cluster-side operations. */
  gitops?: GitOpsDeps;
  /** VictoriaMetrics for NCCL results; absent: pushing results fails for good, saying so. */
  metrics?: MetricsDeps;
  /** Keycloak's admin API; absent on a worker that does not rotate OIDC client secrets. */
  keycloak?: KeycloakDeps;
  /** Infisical (machine identity); absent likewise. */
  infisical?: InfisicalDeps;
  /** Where the rolling lock's Leases live; default temporal-system (tests use their own namespace). */
  leaseNamespace?: string;
}

export function createActivities(deps: ActivityDeps) {
  return withApiMessages({
    ...createNodeActivities(deps.kube),
    ...createDrainActivities(deps.kube),
    ...createWaitActivities(deps.kube),
    ...createInventoryActivities(deps.kube),
    ...createDaemonSetActivities(deps.kube),
    ...createHookActivities(deps.kube),
    ...createRollingLockActivities(deps.kube, deps.leaseNamespace ?? DEFAULT_LEASE_NAMESPACE),
    ...createFluxActivities(deps.kube),
    ...createGitOpsActivities(deps.gitops),
    ...createPrometheusActivities(),
    ...createInputActivities(),
    ...createInputTargetActivities(deps.kube, deps.keycloak),
    ...createMetricsActivities(deps.metrics),
    ...createNcclJobActivities(deps.kube),
    ...createQuarantineActivities(deps.kube),
    ...createRolloutActivities(deps.kube),
    ...createExternalSecretActivities(deps.kube),
    ...createInfisicalActivities(deps.infisical),
    ...createOidcRotationActivities(deps.keycloak, deps.infisical),
  });
}

export type Activities = ReturnType<typeof createActivities>;
