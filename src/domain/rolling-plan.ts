import type { DrainPodPolicy } from './drain.js';

/** What a dry run of a rolling operation shows per node: every step, hook and gate, in the order they run. */
export interface HookSummary {
  namespace: string;
  onNode: boolean;
  timeoutSeconds: number;
  job: { metadata?: { name?: string } };
}

export type HookSummaries = Partial<Record<'beforeDrain' | 'afterReconfigure' | 'beforeUncordon', HookSummary>>;

export interface NodePlanInput {
  precheck: string;
  drainTimeoutSeconds: number;
  drainPods: DrainPodPolicy;
  /** The operation's own steps between the drain and the afterReconfigure hook. */
  ownSteps: string[];
  hooks: HookSummaries;
  /** The window line first, then the gate lines (see RollingGates.describe). */
  gates: string[];
  /** No gate runs after the last node: nothing waits on it. */
  last: boolean;
}

const hookLine = (point: string, hook: HookSummary | undefined) =>
  hook
    ? [
        `hook ${point}: Job ${hook.job.metadata?.name ?? '(from template)'} in ${hook.namespace}${hook.onNode ? ' on the node' : ''}, timeout ${hook.timeoutSeconds}s; failure stops the run`,
      ]
    : [];

export function planNodeSteps({ precheck, drainTimeoutSeconds, drainPods, ownSteps, hooks, gates, last }: NodePlanInput): string[] {
  const [window = '', ...afterNode] = gates;
  return [
    window,
    `precheck: ${precheck}`,
    ...hookLine('beforeDrain', hooks.beforeDrain),
    `cordon (an existing cordon is kept and never undone) and drain through the Eviction API, PDBs respected, timeout ${drainTimeoutSeconds}s; ` +
      `finished pods deleted; unmanaged pods: ${drainPods.unmanagedPods}, emptyDir pods: ${drainPods.emptyDirPods}; skip-labelled, mirror and DaemonSet pods left`,
    ...ownSteps,
    ...hookLine('afterReconfigure', hooks.afterReconfigure),
    ...hookLine('beforeUncordon', hooks.beforeUncordon),
    'uncordon, only if this run cordoned it',
    ...(last ? [] : afterNode),
  ];
}
