import { CancellationScope, condition } from '@temporalio/workflow';

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
  /**
   * Turning true stops starting nodes so that the run can continue as new with the rest: the nodes in
   * progress finish (and pass their gates) first.
   */
  rollOver?: () => boolean;
}

export interface RollingResult<R> {
  outcomes: NodeOutcome<R>[];
  notStarted: string[];
  /** The gate that stopped the run after `node` had been changed successfully. */
  gateFailure?: { node: string; error: unknown };
  /** Stopped for rollOver: `notStarted` is left to the run that continues this one. */
  rolledOver?: boolean;
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
      // Before the node's own gates, so that nothing they consumed (an approval) is lost to the next run.
      if (options.rollOver?.()) {
        stopped = result.rolledOver = true;
        break;
      }
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
