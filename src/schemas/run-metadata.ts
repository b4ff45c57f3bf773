import type { z } from 'zod';
import { planRollingNodes, renderNodeSteps } from '../domain/rolling-plan.js';
import type { NodePlanSpec } from '../domain/rolling-plan.js';
import type { BootstrapClusterInput } from './bootstrap-cluster.js';
import type { DrainNodeInput } from './drain-node.js';
import type { NcclJobInput } from './nccl-job.js';
import type { MaintenanceNodeInput, NodeMaintenanceInput } from './node-maintenance.js';
import type { BootstrapNodeInput } from './node-inventory.js';
import type { RotateOidcClientInput, RotateOidcSecretsInput } from './rotate-oidc-secrets.js';
import { SRIOV_RESOURCE } from './sriov-rollout.js';
import type { SriovNodeInput, SriovRolloutInput } from './sriov-rollout.js';

/**
 * What the Temporal UI shows of a run before anyone queries it: a one-line summary (operation, cluster,
 * nodes) and the plan in Markdown. Written from the parsed input, once per workflow, and used by every
 * start path: the CLI, the schedules, the parents that start children, and `cluster-ops describe` for
 * `temporal workflow start`.
 */
export interface RunMetadata {
  staticSummary: string;
  staticDetails: string;
}

const DRY_RUN = 'dry run: ';
const dryRun = (yes: boolean) => (yes ? DRY_RUN : '');
const list = (names: string[]) => names.join(', ');
const numbered = (lines: string[]) => lines.map((line, i) => `${i + 1}. ${line}`).join('\n');
const details = (...paragraphs: (string | false | undefined)[]) => paragraphs.filter(Boolean).join('\n\n');
const PLAN_ONLY = '_Dry run: returns this plan and changes nothing._';

/** The per-node plan a maintenance run shows (and its dry run returns). */
export const maintenanceNodePlan = (input: z.output<typeof NodeMaintenanceInput> | z.output<typeof MaintenanceNodeInput>): NodePlanSpec => ({
  precheck: 'Ready',
  drainTimeoutSeconds: input.drainTimeoutSeconds,
  ownSteps: [
    input.until === 'done-signal' ? `${input.reason}: wait for done` : `${input.reason}: wait ${input.durationSeconds}s`,
    `verify Ready within ${input.readyTimeoutSeconds}s, same node${input.rebootExpected ? ' (a reboot is expected)' : ', not rebooted'}`,
  ],
});

/** The per-node plan an SR-IOV rollout shows (and its dry run returns). */
export const sriovNodePlan = (policy: z.output<typeof SriovRolloutInput>['node'], numVfs: number): NodePlanSpec => ({
  precheck: `Ready; pods using ${SRIOV_RESOURCE}: ${policy.rdmaPods}`,
  drainTimeoutSeconds: policy.drainTimeoutSeconds,
  ownSteps: [`restart the SR-IOV plugin pod (${policy.daemonSet.namespace}/${policy.daemonSet.name})`, `verify ${SRIOV_RESOURCE} = ${numVfs}`],
});

export function drainNodeMetadata(input: z.output<typeof DrainNodeInput>): RunMetadata {
  return {
    staticSummary: `${dryRun(input.dryRun)}drain ${input.node}`,
    staticDetails: details(
      `**Drain ${input.node}**`,
      numbered([
        'plan: what happens to each pod (evict, delete, wait, refuse, ignore) and why',
        `cordon ${input.node} (an existing cordon is kept and never undone)`,
        `evict through the Eviction API pass after pass, PDBs respected, timeout ${input.timeoutSeconds}s; finished pods deleted; ` +
          `unmanaged pods: ${input.unmanagedPods}, emptyDir pods: ${input.emptyDirPods}; grace period: ${input.gracePeriodSeconds === undefined ? "the pod's own" : `${input.gracePeriodSeconds}s`}`,
        input.uncordonAfter ? 'uncordon once drained, only if this run cordoned it' : 'the node stays cordoned',
      ]),
      input.dryRun && PLAN_ONLY,
    ),
  };
}

export function nodeMaintenanceMetadata(input: z.output<typeof NodeMaintenanceInput>): RunMetadata {
  return {
    staticSummary: `${dryRun(input.dryRun)}node maintenance on ${input.cluster}: ${list(input.nodes)} (${input.reason})`,
    staticDetails: details(
      `**Node maintenance on ${input.cluster}**: ${input.reason}, up to ${input.maxUnavailable} node(s) at a time`,
      renderNodeSteps(planRollingNodes(input.nodes, maintenanceNodePlan(input), input), 'markdown'),
      input.dryRun && PLAN_ONLY,
    ),
  };
}

/** One node of a maintenance run, as its parent starts it. */
export function maintenanceNodeMetadata(input: z.output<typeof MaintenanceNodeInput>): RunMetadata {
  const plan = maintenanceNodePlan(input);
  return {
    staticSummary: `maintenance of ${input.node} (${input.reason})`,
    staticDetails: details(
      `**Maintenance of ${input.node}**`,
      numbered(['precheck: Ready', `cordon and drain, timeout ${plan.drainTimeoutSeconds}s`, ...plan.ownSteps, 'uncordon, only if this run cordoned it']),
    ),
  };
}

export function sriovRolloutMetadata(input: z.output<typeof SriovRolloutInput>): RunMetadata {
  const where = input.nodes ? list(input.nodes) : `nodes matching ${input.nodeSelector}`;
  // Without explicit nodes the plan is the same for each matching node: shown once, gates included.
  const plan = sriovNodePlan(input.node, input.numVfs);
  const steps = input.nodes ? planRollingNodes(input.nodes, plan, input) : planRollingNodes([`each node matching ${input.nodeSelector}`], plan, input, true);
  const { gitops } = input;
  return {
    staticSummary: `${dryRun(input.dryRun)}SR-IOV rollout on ${input.cluster}: ${input.numVfs} VFs, MTU ${input.mtu} on ${where}`,
    staticDetails: details(
      `**SR-IOV rollout on ${input.cluster}**: ${input.numVfs} VFs, MTU ${input.mtu} on ${where}, up to ${input.maxUnavailable} node(s) at a time`,
      numbered([
        `approval: ${input.approval}`,
        `${gitops.mode === 'push' ? 'push' : 'open a pull request changing'} \`${gitops.path}\`${gitops.mode === 'push' ? '' : `, wait up to ${gitops.mergeTimeoutSeconds}s for the merge`}`,
        `wait up to ${gitops.fluxTimeoutSeconds}s for Flux Kustomization ${gitops.kustomization.namespace}/${gitops.kustomization.name} to apply it`,
        'node by node, as below',
        input.rollbackOnFailure
          ? 'on a node failure: revert the Git change and roll the changed nodes back'
          : 'on a node failure: stop (no rollback unless asked)',
      ]),
      renderNodeSteps(steps, 'markdown'),
      input.dryRun && PLAN_ONLY,
    ),
  };
}

/** One node of an SR-IOV rollout, as its parent starts it. */
export function sriovNodeMetadata(input: z.output<typeof SriovNodeInput>): RunMetadata {
  const plan = sriovNodePlan(input.policy, input.numVfs);
  return {
    staticSummary: `SR-IOV on ${input.node}: ${input.numVfs} VFs`,
    staticDetails: details(
      `**SR-IOV on ${input.node}**`,
      numbered([
        `precheck: ${plan.precheck}`,
        `cordon and drain, timeout ${plan.drainTimeoutSeconds}s`,
        ...plan.ownSteps,
        'uncordon, only if this run cordoned it',
      ]),
    ),
  };
}

export function bootstrapClusterMetadata(input: z.output<typeof BootstrapClusterInput>): RunMetadata {
  const source = input.graphSource === 'git' ? `Git at ${input.gitRef}${input.entryPath ? ` from ${input.entryPath}` : ''}` : 'the cluster';
  return {
    staticSummary: `${dryRun(input.dryRun)}bootstrap ${input.cluster}: the Flux Kustomizations in ${input.namespace}`,
    staticDetails: details(
      `**Bootstrap ${input.cluster}**`,
      numbered([
        `read the dependsOn graph of the Kustomizations in ${input.namespace} from ${source}`,
        `reconcile each as soon as what it depends on is Ready, ${input.parallelism} at a time, up to ${input.kustomizationTimeoutSeconds}s each`,
        `suspended Kustomizations: ${input.resumeSuspended ? 'resumed' : 'skipped, with what depends on them'}`,
        'a failure holds back only what depends on it; then wait for retryKustomization, skipKustomization or abort',
      ]),
      input.dryRun && '_Dry run: returns the levels and changes nothing._',
    ),
  };
}

export function bootstrapNodeMetadata(input: z.output<typeof BootstrapNodeInput>): RunMetadata {
  return {
    staticSummary: `bring ${input.node} into service`,
    staticDetails: details(
      `**Bring ${input.node} into service**`,
      numbered([
        `read its class from \`${input.inventoryPath}\``,
        `wait up to ${input.readyTimeoutSeconds}s for it to register and turn Ready`,
        'cordon it and check its labels against the class',
        `wait for the class's agents in order, up to ${input.agentTimeoutSeconds}s each, then its allocatable resources`,
        'uncordon, only if this run cordoned it',
      ]),
    ),
  };
}

export function ncclJobMetadata(input: z.output<typeof NcclJobInput>): RunMetadata {
  const what = input.kind === 'benchmark' ? `NCCL ${input.benchmark.test}` : 'NCCL training';
  return {
    staticSummary: `${what} ${input.name} on ${list(input.nodes)}`,
    staticDetails: details(
      `**${what} ${input.name}** in ${input.namespace}`,
      numbered([
        `wait up to ${input.nodesTimeoutSeconds}s for ${list(input.nodes)} to be Ready with a free GPU and ${input.vfsPerPod} VF(s) each`,
        `run one pod per node on network ${input.network} (rank 0 on ${input.nodes[0]}), up to ${input.attemptTimeoutSeconds}s; no new rank 0 log line for ${input.hangSeconds}s is a hang`,
        `on a failure: classify it and retry, up to ${input.retry.maxAttempts} attempts`,
        input.kind === 'benchmark' ? `report the bus bandwidth${input.results.push ? ' and push it to VictoriaMetrics' : ''}` : 'report the last checkpoint',
      ]),
    ),
  };
}

export function rotateOidcClientMetadata(input: z.output<typeof RotateOidcClientInput>): RunMetadata {
  const { client, policy } = input;
  return {
    staticSummary: `rotate the OIDC client secret of ${client.clientId}`,
    staticDetails: details(
      `**Rotate the OIDC client secret of ${client.clientId}**`,
      numbered([
        `preflight: client policy ${policy.clientPolicy.name} (grace ${policy.clientPolicy.graceSeconds}s), ExternalSecret ${client.externalSecret.namespace}/${client.externalSecret.name} Ready`,
        `regenerate in Keycloak and store in Infisical (${client.infisical.environment}:${client.infisical.secretPath}${client.infisical.secretName})`,
        `sync the ExternalSecret, up to ${policy.syncTimeoutSeconds}s`,
        client.consumers.length ? `restart ${list(client.consumers.map((c) => `${c.kind} ${c.namespace}/${c.name}`))}` : 'no consumer to restart',
        'verify the new secret at the token endpoint',
        `soak ${policy.soakSeconds}s, then revoke the old secret and verify it is refused`,
      ]),
    ),
  };
}

export function rotateOidcSecretsMetadata(input: z.output<typeof RotateOidcSecretsInput>): RunMetadata {
  const clients = input.clients.map((c) => c.clientId).filter((id) => !input.only || input.only.includes(id));
  return {
    staticSummary: `rotate the OIDC client secrets of ${list(clients)}`,
    staticDetails: details(
      `**Rotate the OIDC client secrets** of ${clients.length} client(s), ${input.maxParallel} at a time; the first failure stops starting clients`,
      numbered(clients.map((id) => `${id}: preflight, regenerate, sync, restart, verify, soak ${input.policy.soakSeconds}s, revoke`)),
    ),
  };
}
