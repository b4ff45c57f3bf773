import { z } from 'zod';
import { kubeName, seconds } from './common.js';

export const DrainNodeInput = z.strictObject({
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
  /** Report which pods would be evicted, ignored or blocked, and change nothing. */
  dryRun: z.boolean().default(false),
});
export type DrainNodeInput = z.input<typeof DrainNodeInput>;
