/**
 * Run as a local activity when a workflow starts: it hands back the input the workflow parsed, so the
 * parsed value (defaults included) is recorded in the history. A replay then reads it from there, and a
 * default changed after the run started never changes what the run does (src/workflows/shared/input.ts).
 */
export function createInputActivities() {
  return {
    async recordParsedInput<T>({ input }: { input: T }): Promise<{ input: T }> {
      return { input };
    },
  };
}
