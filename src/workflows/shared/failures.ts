/** The root failure message, not the "Activity task failed" / "Child Workflow execution failed" wrappers. */
export function rootMessage(error: unknown): string {
  let current = error as { cause?: unknown; message?: string } | undefined;
  while (current?.cause) current = current.cause as typeof current;
  return current?.message ?? String(error);
}
