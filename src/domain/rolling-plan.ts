import type { RollingPolicy } from '../schemas/rolling.js';
import type { DrainPodPolicy } from './drain.js';
import { describeWindow } from './maintenance-window.js';

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

/** What an operation says of each node, around the steps every rolling operation shares. */
export type NodePlanSpec = Pick<NodePlanInput, 'precheck' | 'drainTimeoutSeconds' | 'ownSteps'>;

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

/** A plan line per gate: the window first, then settle and health gate (see RollingGates). */
export function describeGates({ window, settleSeconds, healthGate }: Pick<RollingPolicy, 'window' | 'settleSeconds' | 'healthGate'>): string[] {
  const checks = [
    healthGate.nodesReady ? 'all nodes in scope Ready' : undefined,
    healthGate.fluxNamespace ? `no failing Flux Kustomization in ${healthGate.fluxNamespace}` : undefined,
    healthGate.prometheus ? `PromQL ${healthGate.prometheus.query} returns 0 at ${healthGate.prometheus.url}` : undefined,
  ].filter((c): c is string => c !== undefined);
  return [
    window ? `window: start a node only inside ${describeWindow(window)}` : 'window: none (any time)',
    `settle: ${settleSeconds}s, the node must stay Ready and verified`,
    `health gate before the next node (up to ${healthGate.timeoutSeconds}s): ${checks.length ? checks.join(', ') : 'none'}`,
  ];
}

/**
 * Each node's steps, hooks and gates in the order they run: the dry run's plan and the run's static details.
 * `moreFollow`: the list stands for nodes not known yet (a selector's), so no node is the last one.
 */
export function planRollingNodes(nodes: string[], node: NodePlanSpec, policy: RollingPolicy, moreFollow = false): Record<string, string[]> {
  const gates = describeGates(policy);
  const last = (i: number) => !moreFollow && i === nodes.length - 1;
  return Object.fromEntries(nodes.map((name, i) => [name, planNodeSteps({ ...node, drainPods: policy.drainPods, hooks: policy.hooks, gates, last: last(i) })]));
}

/**
 * A per-node plan, node by node with its steps numbered: plain text for the terminal (`cluster-ops plan`),
 * Markdown for the Temporal UI (the run's static details).
 */
export function renderNodeSteps(steps: Record<string, string[]>, format: 'text' | 'markdown'): string {
  const [heading, indent] = format === 'markdown' ? [(node: string) => `**${node}**`, ''] : [(node: string) => node, '  '];
  return Object.entries(steps)
    .map(([node, lines]) => `${heading(node)}\n${lines.map((line, i) => `${indent}${i + 1}. ${line}`).join('\n')}`)
    .join('\n\n');
}
