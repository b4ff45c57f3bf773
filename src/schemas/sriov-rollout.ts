import { z } from 'zod';
import { dnsLabel, kubeName, labelSelector, repoPath, seconds } from './common.js';
import { RollingPolicy } from './rolling.js';

/** The extended resource the SR-IOV device plugin advertises: one per ConnectX-7 VF. */
export const SRIOV_RESOURCE = 'nvidia.com/cx7_qsfp';

const objectRef = (namespace: string, name: string) => z.strictObject({ namespace: dnsLabel.default(namespace), name: kubeName.default(name) }).prefault({});

/** What the rollout does per node, shared by the parent and its per-node child workflows. */
export const SriovNodePolicy = z.strictObject({
  /** The SR-IOV DaemonSet (updateStrategy OnDelete) whose pod is restarted on each node. */
  daemonSet: objectRef('kube-system', 'sriov-device-plugin'),
  /**
   * Pods already using the RDMA link (requesting nvidia.com/cx7_qsfp) on a node about to be changed:
   * wait for them to finish, abort the rollout, or evict them with the drain.
   */
  rdmaPods: z.enum(['wait', 'abort', 'evict']).default('wait'),
  rdmaWaitSeconds: seconds(7 * 24 * 3600).default(3600),
  drainTimeoutSeconds: seconds(24 * 3600).default(600),
  /** How long the restarted plugin may take to come up and advertise the new VF count. */
  verifyTimeoutSeconds: seconds(3600).default(300),
});

export const SriovRolloutInput = z.strictObject({
  /** One rollout per cluster: the workflow id is sriov-rollout-<cluster>. */
  cluster: dnsLabel.default('willingham-k8s'),
  /** The new number of VFs per ConnectX-7 (4 today). */
  numVfs: z.number().int().min(1).max(64),
  mtu: z.number().int().min(1280).max(9216).default(9000),
  /** Explicit nodes, in this order; otherwise every node matching nodeSelector, by name. */
  nodes: z.array(kubeName).min(1).optional(),
  nodeSelector: labelSelector.default('feature.node.kubernetes.io/network-sriov.capable=true'),
  /** Nodes changed at once; 1 keeps the RDMA link up on the other DGX Spark. */
  maxUnavailable: z.number().int().min(1).max(10).default(1),
  /** Hooks, settle time, health gate and maintenance window (docs/workflows/rolling-options.md). */
  ...RollingPolicy.shape,
  gitops: z
    .strictObject({
      /** pull-request: push a branch and open a PR, wait for a person to merge; push: commit to the base branch. */
      mode: z.enum(['pull-request', 'push']).default('pull-request'),
      /** The file in the GitOps repo holding the SR-IOV ConfigMap and DaemonSet. */
      path: repoPath.default('base/sriov-device-plugin/sriov-device-plugin.yaml'),
      /** The Flux Kustomization that applies that file. */
      kustomization: objectRef('flux-system', 'base'),
      mergeTimeoutSeconds: seconds(14 * 24 * 3600).default(7 * 24 * 3600),
      fluxTimeoutSeconds: seconds(24 * 3600).default(900),
    })
    .prefault({}),
  node: SriovNodePolicy.prefault({}),
  /** none, once before the first node, or before each node: the run waits for the `approve` signal. */
  approval: z.enum(['none', 'once', 'each-node']).default('none'),
  /** On a node failure, revert the Git change and roll the changed nodes back. */
  rollbackOnFailure: z.boolean().default(false),
  /** Return the plan (nodes, order, config change) and change nothing. */
  dryRun: z.boolean().default(false),
});
export type SriovRolloutInput = z.input<typeof SriovRolloutInput>;

export const SriovNodeInput = z.strictObject({
  node: kubeName,
  numVfs: z.number().int().min(1).max(64),
  policy: SriovNodePolicy.prefault({}),
  hooks: RollingPolicy.shape.hooks,
  drainPods: RollingPolicy.shape.drainPods,
});
export type SriovNodeInput = z.input<typeof SriovNodeInput>;

export const sriovRolloutId = (cluster: string) => `sriov-rollout-${cluster}`;
