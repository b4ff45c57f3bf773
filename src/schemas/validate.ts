import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { FailureType } from '../failures.js';

/** One line per problem, each naming the field it is about, e.g. `input.node: must not be empty`. */
export function describeIssues(error: z.ZodError, root = 'input'): string {
  return error.issues
    .map((issue) => {
      const path = [root, ...issue.path.map(String)].join('.');
      return `${path}: ${issue.message}`;
    })
    .join('\n');
}

/**
 * Parses a workflow's input with the schema the client and CLI also use. Bad input fails the workflow at
 * once and for good: retrying cannot fix it, and nothing has been touched yet.
 */
export function parseWorkflowInput<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const result = schema.safeParse(raw ?? {});
  if (result.success) return result.data;
  throw ApplicationFailure.nonRetryable(`invalid input\n${describeIssues(result.error)}`, FailureType.InvalidInput);
}
