/**
 * The rolling engine: runs one operation per node, in order, at most `maxUnavailable` at a time, and
 * stops starting nodes at the first failure. Deterministic (workflow code), free of any node operation's
 * details, so every rolling workflow shares it.
 */
export type NodeOutcome<R> = { node: string; ok: true; result: R } | { node: string; ok: false; error: unknown };

export interface RollingOptions {
  maxUnavailable: number;
  /** Runs before each node starts (gates: pause, approval); false stops starting new nodes. */
  beforeNode: (node: string) => Promise<boolean>;
}

export interface RollingResult<R> {
  outcomes: NodeOutcome<R>[];
  notStarted: string[];
}

export async function rollNodes<R>(
  nodes: string[],
  options: RollingOptions,
  runNode: (node: string) => Promise<R>,
): Promise<RollingResult<R>> {
  const outcomes: NodeOutcome<R>[] = [];
  const queue = [...nodes];
  const active = new Map<string, Promise<void>>();
  let stopped = false;
  const failed = () => outcomes.some((o) => !o.ok);

  while (active.size > 0 || (queue.length > 0 && !stopped && !failed())) {
    while (active.size < options.maxUnavailable && queue.length > 0 && !stopped && !failed()) {
      const node = queue[0]!;
      if (!(await options.beforeNode(node)) || failed()) {
        stopped = true;
        break;
      }
      queue.shift();
      const run = runNode(node).then(
        (result) => void outcomes.push({ node, ok: true, result }),
        (error: unknown) => void outcomes.push({ node, ok: false, error }),
      );
      active.set(node, run.finally(() => active.delete(node)));
    }
    if (active.size > 0) await Promise.race(active.values());
  }
  return { outcomes, notStarted: queue };
}
