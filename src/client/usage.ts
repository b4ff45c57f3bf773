import { describeIssues, safeParseInput } from '../schemas/validate.js';
import { isWorkflowName, workflowCatalog } from '../schemas/workflows.js';

/** A mistake in what the caller asked for: nothing was started or changed. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Validates the input with the workflow's own schema before anything reaches Temporal. */
export function validateStart(workflow: string, rawInput: unknown) {
  if (!isWorkflowName(workflow)) {
    throw new UsageError(`unknown workflow "${workflow}"; known: ${Object.keys(workflowCatalog).join(', ')}`);
  }
  const entry = workflowCatalog[workflow];
  const parsed = safeParseInput(entry.input, rawInput);
  if (!parsed.success) throw new UsageError(`invalid input for ${workflow}:\n${describeIssues(parsed.error)}`);
  return { workflow, input: parsed.data, defaultId: entry.workflowId(parsed.data), metadata: entry.metadata(parsed.data) };
}
