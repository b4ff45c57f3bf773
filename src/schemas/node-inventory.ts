import { z } from 'zod';
import { kubeName, repoPath, seconds } from './common.js';

const namespacedName = z.string().regex(/^[a-z0-9-]+\/[a-z0-9.-]+$/, 'must be namespace/name');

/** inventory/nodes.yaml in the GitOps repo: what each node must look like before it takes work. */
export const NodeInventory = z.strictObject({
  classes: z.record(
    z.string(),
    z.strictObject({
      arch: z.enum(['amd64', 'arm64']),
      interfaces: z.array(z.string()).default([]),
      labels: z.record(z.string(), z.string()).default({}),
      allocatable: z.record(z.string(), z.string()).default({}),
      /** Agents that must be Ready on the node, in the order they come up. */
      daemonSets: z.array(namespacedName).default([]),
    }),
  ),
  nodes: z.record(z.string(), z.string()),
});
export type NodeInventory = z.output<typeof NodeInventory>;
export type NodeClass = NodeInventory['classes'][string];

export const BootstrapNodeInput = z.strictObject({
  node: kubeName,
  /** In the GitOps repository. */
  inventoryPath: repoPath.default('inventory/nodes.yaml'),
  /** How long to wait for the node to register and turn Ready. */
  readyTimeoutSeconds: seconds(24 * 3600).default(1800),
  /** Per agent DaemonSet, and for the allocatable check. */
  agentTimeoutSeconds: seconds(24 * 3600).default(600),
});
export type BootstrapNodeInput = z.input<typeof BootstrapNodeInput>;
