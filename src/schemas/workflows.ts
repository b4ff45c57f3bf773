import type { z } from 'zod';
import { BootstrapClusterInput, bootstrapClusterId } from './bootstrap-cluster.js';
import { DrainNodeInput } from './drain-node.js';
import { NcclJobInput, ncclJobId } from './nccl-job.js';
import { NodeMaintenanceInput, nodeMaintenanceId } from './node-maintenance.js';
import { BootstrapNodeInput } from './node-inventory.js';
import { RotateOidcClientInput, RotateOidcSecretsInput } from './rotate-oidc-secrets.js';
import {
  bootstrapClusterMetadata,
  bootstrapNodeMetadata,
  drainNodeMetadata,
  ncclJobMetadata,
  nodeMaintenanceMetadata,
  rotateOidcClientMetadata,
  rotateOidcSecretsMetadata,
  sriovRolloutMetadata,
} from './run-metadata.js';
import type { RunMetadata } from './run-metadata.js';
import { SriovRolloutInput, sriovRolloutId } from './sriov-rollout.js';

interface CatalogEntry {
  input: z.ZodType;
  summary: string;
  /** Workflow ids derive from the target, so two runs on one target collide instead of racing. */
  workflowId(input: unknown): string;
  /** The summary and plan the Temporal UI shows for a run of this input (every start path sets them). */
  metadata(input: unknown): RunMetadata;
  /** Takes dryRun: returns its plan and changes nothing. */
  plannable?: boolean;
}

function entry<S extends z.ZodType>(e: {
  input: S;
  summary: string;
  workflowId: (input: z.output<S>) => string;
  metadata: (input: z.output<S>) => RunMetadata;
  plannable?: boolean;
}): CatalogEntry {
  return e as CatalogEntry;
}

/** The workflows a person can start, with the input schema the workflow itself validates. */
export const workflowCatalog = {
  bootstrapCluster: entry({
    input: BootstrapClusterInput,
    summary: 'reconcile every Flux Kustomization in dependsOn order, as parallel as the graph allows',
    workflowId: (input) => bootstrapClusterId(input.cluster),
    metadata: bootstrapClusterMetadata,
    plannable: true,
  }),
  bootstrapNode: entry({
    input: BootstrapNodeInput,
    summary: 'bring a (re)joined node into service: Ready, inventory check, agents in order, allocatable, uncordon',
    workflowId: (input) => `bootstrap-node-${input.node}`,
    metadata: bootstrapNodeMetadata,
  }),
  drainNode: entry({
    input: DrainNodeInput,
    summary: 'cordon a node and evict its pods, respecting PodDisruptionBudgets',
    workflowId: (input) => `drain-node-${input.node}`,
    metadata: drainNodeMetadata,
    plannable: true,
  }),
  ncclJob: entry({
    input: NcclJobInput,
    summary: 'multi-node NCCL benchmark or torchrun training on the DGX Sparks, retried across node failures',
    workflowId: (input) => ncclJobId(input.name),
    metadata: ncclJobMetadata,
  }),
  nodeMaintenance: entry({
    input: NodeMaintenanceInput,
    summary: 'node by node: cordon, drain, hold for the operator (done signal) or a time, verify Ready, uncordon',
    workflowId: (input) => nodeMaintenanceId(input.cluster),
    metadata: nodeMaintenanceMetadata,
    plannable: true,
  }),
  rotateOidcClient: entry({
    input: RotateOidcClientInput,
    summary: 'rotate one OIDC client secret: Keycloak → Infisical → ExternalSecret → consumers, old secret revoked after a soak',
    workflowId: (input) => `rotate-oidc-client-${input.client.clientId}`,
    metadata: rotateOidcClientMetadata,
  }),
  rotateOidcSecrets: entry({
    input: RotateOidcSecretsInput,
    summary: 'rotate the OIDC client secrets of a client list, one client at a time',
    workflowId: () => 'rotate-oidc-secrets',
    metadata: rotateOidcSecretsMetadata,
  }),
  sriovRollout: entry({
    input: SriovRolloutInput,
    summary: 'change the SR-IOV VF config through Git, then restart it node by node',
    workflowId: (input) => sriovRolloutId(input.cluster),
    metadata: sriovRolloutMetadata,
    plannable: true,
  }),
};

export type WorkflowName = keyof typeof workflowCatalog;

export function isWorkflowName(name: string): name is WorkflowName {
  return Object.hasOwn(workflowCatalog, name);
}

/** Whether the workflow takes dryRun: a plan that changes nothing. */
export function hasDryRun(name: string): boolean {
  return isWorkflowName(name) && workflowCatalog[name].plannable === true;
}
