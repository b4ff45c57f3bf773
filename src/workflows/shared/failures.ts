/** The root failure message, not the "Activity task failed" / "Child Workflow execution failed" wrappers. */
export function rootMessage(error: unknown): string {
  let current = error as { cause?: unknown; message?: string } | undefined;
  while (current?.cause) current = current.cause as typeof current;
  return current?.message ?? String(error);
}

/** The first failure type along the cause chain that is one of `types`, e.g. NodeGone under a child's failure. */
export function failureTypeIn(error: unknown, types: readonly string[]): string | undefined {
  for (let e = error as { type?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.type && types.includes(e.type)) return e.type;
  }
  return undefined;
}

/** Failures that mean the node itself is no longer the one we started on: no cordon of ours is left on it. */
export const NODE_LOST_TYPES = ['NodeGone', 'NodeReplaced'] as const;
