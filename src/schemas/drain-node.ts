import { z } from 'zod';
import { POD_POLICY_CHOICES } from '../domain/drain.js';
import { kubeName, seconds } from './common.js';

/**
 * What a drain may do with pods an eviction cannot give back. Both refuse by default, as kubectl does
 * without --force and --delete-emptydir-data: the drain then fails before cordoning, naming each pod and
 * the field to change. A rolling operation takes the same fields and passes them to its drains.
 */
export const DrainPodPolicyInput = z.strictObject({
  /** Pods no controller recreates (no controller ownerReference, or their DaemonSet is gone): evicted, they are gone for good. */
  unmanagedPods: z.enum(POD_POLICY_CHOICES).default('refuse'),
  /** Pods with emptyDir volumes: evicting deletes that data. */
  emptyDirPods: z.enum(POD_POLICY_CHOICES).default('refuse'),
});

export const DrainNodeInput = z.strictObject({
  ...DrainPodPolicyInput.shape,
  /** The node to cordon and drain. */
  node: kubeName,
  /** Give up after this long if PodDisruptionBudgets still block evictions; the node stays cordoned. */
  timeoutSeconds: seconds(24 * 3600).default(600),
  /** Grace period passed to each eviction; the pod's own when absent. */
  gracePeriodSeconds: z.number().int().min(0).max(3600).optional(),
  /** Uncordon once drained (only if this run cordoned it): a drill, not a maintenance. */
  uncordonAfter: z.boolean().default(false),
  /**
   * Who owns the cordon (recorded on the node): this run's workflow id by default; a rolling operation
   * passes its own id so it can uncordon, or roll back, the node later.
   */
  owner: z.string().min(1).max(253).optional(),
  /** Report what would happen to each pod (evict, delete, wait, refuse, ignore) and why, and change nothing. */
  dryRun: z.boolean().default(false),
});
export type DrainNodeInput = z.input<typeof DrainNodeInput>;
