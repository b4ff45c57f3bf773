import { z } from 'zod';
import { dnsLabel, kubeName, oneLine, seconds } from './common.js';
import { RollingPolicy } from './rolling.js';

/** How the maintenance of one node ends: an operator's `done` signal, or a fixed time. */
const MaintenanceEnd = z.strictObject({
  until: z.enum(['done-signal', 'duration']).default('done-signal'),
  /** With until=duration: how long the node stays drained. */
  durationSeconds: seconds(7 * 24 * 3600).optional(),
  /** A Talos upgrade or a hardware fix reboots the node: a new boot ID is then expected, a new uid never is. */
  rebootExpected: z.boolean().default(true),
  drainTimeoutSeconds: seconds(24 * 3600).default(600),
  /** How long the node may take to be Ready again after the maintenance. */
  readyTimeoutSeconds: seconds(24 * 3600).default(1800),
});

const hasDuration = (m: { until: string; durationSeconds?: number }) => m.until !== 'duration' || m.durationSeconds !== undefined;
const DURATION_REQUIRED = { message: 'durationSeconds is required when until is duration', path: ['durationSeconds'], when: () => true };

export const NodeMaintenanceInput = z
  .strictObject({
    /** One maintenance run per cluster: the workflow id is node-maintenance-<cluster>. */
    cluster: dnsLabel.default('willingham-k8s'),
    /** The nodes, in this order. */
    nodes: z.array(kubeName).min(1),
    /** What is being done, for the progress view and the report, e.g. "Talos v1.11.5 upgrade". */
    reason: oneLine(200),
    maxUnavailable: z.number().int().min(1).max(10).default(1),
    /**
     * A long run (a fleet) continues as new past this many history events, carrying what it did; the nodes
     * in progress finish first. Temporal warns at 10,240 events and ends a run at 51,200. About 30 per node.
     */
    historyEventsPerRun: z.number().int().min(100).max(10_000).default(5_000),
    ...MaintenanceEnd.shape,
    ...RollingPolicy.shape,
    /** Return the per-node plan and change nothing. */
    dryRun: z.boolean().default(false),
  })
  .refine(hasDuration, DURATION_REQUIRED);
export type NodeMaintenanceInput = z.input<typeof NodeMaintenanceInput>;

export const MaintenanceNodeInput = z
  .strictObject({
    node: kubeName,
    reason: oneLine(200),
    ...MaintenanceEnd.shape,
    hooks: RollingPolicy.shape.hooks,
    drainPods: RollingPolicy.shape.drainPods,
  })
  .refine(hasDuration, DURATION_REQUIRED);
export type MaintenanceNodeInput = z.input<typeof MaintenanceNodeInput>;

export const nodeMaintenanceId = (cluster: string) => `node-maintenance-${cluster}`;
