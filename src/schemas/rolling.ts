import { z } from 'zod';
import { isTimeZone, WEEKDAYS } from '../domain/maintenance-window.js';
import { containerImage, dnsLabel, seconds } from './common.js';
import { DrainPodPolicyInput } from './drain-node.js';

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24 h)');
const timeZone = z.string().refine(isTimeZone, 'must be an IANA time zone, e.g. Europe/Berlin');

export const MaintenanceWindowInput = z
  .strictObject({
    days: z
      .array(z.enum(WEEKDAYS))
      .min(1)
      .default([...WEEKDAYS]),
    start: hhmm,
    end: hhmm,
    timeZone: timeZone.default('UTC'),
  })
  .refine((w) => w.start !== w.end, { message: 'start and end must differ', path: ['end'], when: () => true });

/**
 * A Kubernetes Job run at a point of a node's operation. The template is a batch/v1 Job; the run names
 * it, labels it, sets NODE_NAME (and HOOK) in every container, and with onNode pins its pods to the node.
 */
export const HookInput = z.strictObject({
  job: z.looseObject({
    apiVersion: z.literal('batch/v1').default('batch/v1'),
    kind: z.literal('Job').default('Job'),
    /** The name, if any, shows in the plan; each run names its Job itself. */
    metadata: z.looseObject({ name: z.string().optional() }).optional(),
    spec: z.looseObject({
      template: z.looseObject({ spec: z.looseObject({ containers: z.array(z.looseObject({ name: dnsLabel, image: containerImage })).min(1) }) }),
    }),
  }),
  namespace: dnsLabel.default('temporal-system'),
  /** Run on the node itself (a node check, a firmware tool) or anywhere (an external API call). */
  onNode: z.boolean().default(true),
  timeoutSeconds: seconds(24 * 3600).default(600),
});
export type HookInput = z.output<typeof HookInput>;

export const HOOK_POINTS = ['beforeDrain', 'afterReconfigure', 'beforeUncordon'] as const;
export type HookPoint = (typeof HOOK_POINTS)[number];

export const HealthGateInput = z.strictObject({
  /** Every node in the run's scope Ready (not only the one just changed). */
  nodesReady: z.boolean().default(true),
  /** No Flux Kustomization in this namespace Ready=False; empty to skip. */
  fluxNamespace: z.union([dnsLabel, z.literal('')]).default('flux-system'),
  /** An instant PromQL query that must return no series or only zeros (e.g. firing critical alerts). */
  prometheus: z.strictObject({ url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }), query: z.string().min(1) }).optional(),
  /** How long an unhealthy cluster may take to recover before the run stops. */
  timeoutSeconds: seconds(24 * 3600).default(300),
});

/** What every rolling operation offers around its node operation. */
export const RollingPolicy = z.strictObject({
  hooks: z.strictObject({ beforeDrain: HookInput.optional(), afterReconfigure: HookInput.optional(), beforeUncordon: HookInput.optional() }).prefault({}),
  /** After a node is done: it must stay Ready and verified this long (a durable timer) before the next. */
  settleSeconds: z
    .number()
    .int()
    .min(0)
    .max(24 * 3600)
    .default(60),
  healthGate: HealthGateInput.prefault({}),
  /** Outside the window the run waits before starting a node; a node in progress is never interrupted. */
  window: MaintenanceWindowInput.optional(),
  /** What each node's drain may do with unmanaged and emptyDir pods (refused by default, as kubectl does). */
  drainPods: DrainPodPolicyInput.prefault({}),
});
export type RollingPolicy = z.output<typeof RollingPolicy>;
