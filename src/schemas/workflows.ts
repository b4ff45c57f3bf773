import type { z } from 'zod';
import { BootstrapClusterInput, bootstrapClusterId } from './bootstrap-cluster.js';
import { DrainNodeInput } from './drain-node.js';
import { BootstrapNodeInput } from './node-inventory.js';
import { RotateOidcClientInput, RotateOidcSecretsInput } from './rotate-oidc-secrets.js';
import { SriovRolloutInput, sriovRolloutId } from './sriov-rollout.js';

interface CatalogEntry {
  input: z.ZodType;
  summary: string;
  /** Workflow ids derive from the target, so two runs on one target collide instead of racing. */
  workflowId(input: unknown): string;
}

function entry<S extends z.ZodType>(e: { input: S; summary: string; workflowId: (input: z.output<S>) => string }): CatalogEntry {
  return e as CatalogEntry;
}

/** The workflows a person can start, with the input schema the workflow itself validates. */
export const workflowCatalog = {
  bootstrapCluster: entry({
    input: BootstrapClusterInput,
    summary: 'reconcile every Flux Kustomization in dependsOn order, as parallel as the graph allows',
    workflowId: (input) => bootstrapClusterId(input.cluster),
  }),
  bootstrapNode: entry({
    input: BootstrapNodeInput,
    summary: 'bring a (re)joined node into service: Ready, inventory check, agents in order, allocatable, uncordon',
    workflowId: (input) => `bootstrap-node-${input.node}`,
  }),
  drainNode: entry({
    input: DrainNodeInput,
    summary: 'cordon a node and evict its pods, respecting PodDisruptionBudgets',
    workflowId: (input) => `drain-node-${input.node}`,
  }),
  rotateOidcClient: entry({
    input: RotateOidcClientInput,
    summary: 'rotate one OIDC client secret: Keycloak → Infisical → ExternalSecret → consumers, old secret revoked after a soak',
    workflowId: (input) => `rotate-oidc-client-${input.client.clientId}`,
  }),
  rotateOidcSecrets: entry({
    input: RotateOidcSecretsInput,
    summary: 'rotate the OIDC client secrets of a client list, one client at a time',
    workflowId: () => 'rotate-oidc-secrets',
  }),
  sriovRollout: entry({
    input: SriovRolloutInput,
    summary: 'change the SR-IOV VF config through Git, then restart it node by node',
    workflowId: (input) => sriovRolloutId(input.cluster),
  }),
};

export type WorkflowName = keyof typeof workflowCatalog;

export function isWorkflowName(name: string): name is WorkflowName {
  return Object.hasOwn(workflowCatalog, name);
}
