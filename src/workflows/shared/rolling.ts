import { ApplicationFailure, CancellationScope, condition, isCancellation } from '@temporalio/workflow';
import { rootMessage } from './failures.js';
import type { ProgressTracker } from './progress.js';

/**
 * The rolling engine: runs one operation per node, in order, at most `maxUnavailable` at a time, and
 * stops starting nodes at the first failure or failed gate. Deterministic (workflow code), free of any node
 * operation's details, so every rolling workflow shares it.
 */
export type NodeOutcome<R> = { node: string; ok: true; result: R } | { node: string; ok: false; error: unknown };

export interface RollingOptions<R> {
  maxUnavailable: number;
  /** Runs before each node starts (window, pause, approval); false stops starting new nodes. */
  beforeNode: (node: string) => Promise<boolean>;
  /**
   * Runs after a node succeeded while other nodes wait to start (settle time, health gate); its node's
   * slot stays taken until it returns. A throw stops the run: no further node starts.
   */
  betweenNodes?: (node: string, result: R) => Promise<void>;
  /** Turning true cancels the nodes in progress (their child workflows see a cancellation). */
  stopRequested: () => boolean;
  /** Told each node's outcome the moment it is known (progress rows), before any gate runs. */
  onOutcome?: (outcome: NodeOutcome<R>) => void;
}

export interface RollingResult<R> {
  outcomes: NodeOutcome<R>[];
  notStarted: string[];
  /** The gate that stopped the run after `node` had been changed successfully. */
  gateFailure?: { node: string; error: unknown };
}

export async function rollNodes<R>(nodes: string[], options: RollingOptions<R>, runNode: (node: string) => Promise<R>): Promise<RollingResult<R>> {
  const result: RollingResult<R> = { outcomes: [], notStarted: [] };
  const queue = [...nodes];
  const active = new Map<string, Promise<void>>();
  const scopes = new Set<CancellationScope>();
  let stopped = false;
  const failed = () => result.outcomes.some((o) => !o.ok) || result.gateFailure !== undefined;
  const mayStart = () => queue.length > 0 && !stopped && !failed();
  const record = (outcome: NodeOutcome<R>) => {
    result.outcomes.push(outcome);
    options.onOutcome?.(outcome);
  };

  let finished = false;
  void condition(() => finished || options.stopRequested()).then(() => scopes.forEach((scope) => scope.cancel()));

  while (active.size > 0 || mayStart()) {
    while (active.size < options.maxUnavailable && mayStart()) {
      const node = queue[0]!;
      if (!(await options.beforeNode(node)) || failed()) {
        stopped = true;
        break;
      }
      queue.shift();
      const scope = new CancellationScope();
      scopes.add(scope);
      const run = scope
        .run(() => runNode(node))
        .then(
          async (value) => {
            record({ node, ok: true, result: value });
            if (queue.length > 0 && options.betweenNodes && !options.stopRequested()) {
              await options.betweenNodes(node, value).catch((error: unknown) => void (result.gateFailure = { node, error }));
            }
          },
          (error: unknown) => record({ node, ok: false, error }),
        )
        .finally(() => {
          scopes.delete(scope);
          active.delete(node);
        });
      active.set(node, run);
    }
    if (active.size > 0) await Promise.race(active.values());
  }
  finished = true;
  result.notStarted = queue;
  return result;
}

/** How a rolling run reports each node; `status` values are the operation's own. */
export interface NodeReport<S extends string> {
  node: string;
  status: S | 'failed' | 'aborted' | 'not-started';
  message: string;
  /** Left cordoned at the end of the run: by an admin before us, or by a failure. */
  leftCordoned: boolean;
  /** Who had cordoned the node before this run (an admin, another run): we never uncordon it. */
  cordonedBefore?: string;
}

/** The run's final, non-retryable failure: why it stopped and where every node was left. */
export function rollingStopped(operation: string, why: string, reports: NodeReport<string>[]) {
  const lines = reports.map(
    (r) => `${r.node}: ${r.status}${r.message ? ` (${r.message})` : ''}${r.leftCordoned ? ' [cordoned]' : ''}`,
  );
  return ApplicationFailure.create({
    type: 'RolloutStopped',
    nonRetryable: true,
    message: `${operation} stopped: ${why}\n${lines.join('\n')}`,
    details: [reports],
  });
}

/** The per-node facts every rolling operation's child returns. */
export interface NodeChildResult {
  cordonedByOthers: boolean;
  cordonedBefore?: string;
  uncordoned: boolean;
}

/** Writes one node's outcome into its report and progress row: a success as the operation names it. */
export function recordOutcome<R extends NodeChildResult, S extends string>(
  reports: Map<string, NodeReport<S>>,
  outcome: NodeOutcome<R>,
  progress: ProgressTracker,
  succeeded: (result: R) => { status: S; message: string },
): void {
  const report = reports.get(outcome.node)!;
  if (outcome.ok) {
    const { status, message } = succeeded(outcome.result);
    const kept = outcome.result.cordonedBefore ? `; cordoned by ${outcome.result.cordonedBefore} before this run, left cordoned` : '';
    Object.assign(report, { status, message: message + kept, cordonedBefore: outcome.result.cordonedBefore });
    progress.step(`node ${outcome.node}`, 'done', report.message);
  } else {
    const aborted = isCancellation(outcome.error);
    Object.assign(report, { status: aborted ? 'aborted' : 'failed', message: aborted ? 'interrupted by abort; left as it was' : rootMessage(outcome.error) });
    progress.step(`node ${outcome.node}`, 'failed', report.message);
  }
}

/**
 * Completes the reports once the engine is done: nodes never started are skipped, a failed gate is told on
 * the node after which it ran, and whether a node is left cordoned comes from the cluster (`cordonedNow`),
 * not from guesses. Returns the reason the run must stop, if any.
 */
export function finishReports<S extends string>(
  reports: Map<string, NodeReport<S>>,
  rolled: RollingResult<unknown>,
  progress: ProgressTracker,
  cordonedNow: Set<string>,
): string | undefined {
  for (const report of reports.values()) report.leftCordoned = cordonedNow.has(report.node);
  for (const node of rolled.notStarted) progress.step(`node ${node}`, 'skipped', 'not started');
  if (rolled.gateFailure) {
    const report = reports.get(rolled.gateFailure.node)!;
    report.message += `; then the gate before the next node failed: ${rootMessage(rolled.gateFailure.error)}`;
    progress.step(`node ${report.node}`, 'failed', report.message);
    return `gate after ${report.node} failed`;
  }
  const failed = [...reports.values()].find((r) => r.status === 'failed');
  return failed ? `node ${failed.node} failed` : undefined;
}
