import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { FailureType } from '../failures.js';

/**
 * The largest input any workflow takes, as JSON. Inputs are a few kilobytes (the OIDC client list is the
 * largest); each is kept whole in its run's history, and Temporal refuses a payload over 2 MB with an error
 * that names no field. The CLI, the schedules loader and the workflows all refuse a larger one, saying so.
 */
export const MAX_INPUT_BYTES = 256 * 1024;

const size = (bytes: number) => (bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`);

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
 * A workflow's input checked as every caller checks it: an oversized one is refused whole, before its fields
 * are read; otherwise the workflow's schema decides.
 */
export function safeParseInput<S extends z.ZodType>(schema: S, raw: unknown): { success: true; data: z.output<S> } | { success: false; error: z.ZodError } {
  const bytes = new TextEncoder().encode(JSON.stringify(raw) ?? '').length;
  if (bytes <= MAX_INPUT_BYTES) return schema.safeParse(raw);
  const message = `too large: ${size(bytes)} as JSON; the limit is ${size(MAX_INPUT_BYTES)} (it is kept in every run's history)`;
  // The issue leaves the input out: it may be megabytes.
  return { success: false, error: new z.ZodError([{ code: 'custom', path: [], message, input: undefined }]) };
}

/** The failure of a run whose input is bad: nothing has been touched, and no retry can fix it. */
export const invalidInput = (problems: string) => ApplicationFailure.nonRetryable(`invalid input\n${problems}`, FailureType.InvalidInput);

/**
 * Parses a workflow's input with the schema the client and CLI also use. Bad input fails the workflow at
 * once and for good: retrying cannot fix it, and nothing has been touched yet.
 */
export function parseWorkflowInput<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const result = safeParseInput(schema, raw ?? {});
  if (result.success) return result.data;
  throw invalidInput(describeIssues(result.error));
}
