import { z } from 'zod';
import { cronProblem } from '../domain/cron.js';
import { workflowIdInput } from './common.js';

const cronExpression = z.string().check(
  z.superRefine((expression, ctx) => {
    const problem = cronProblem(expression);
    if (problem) ctx.addIssue({ code: 'custom', message: `not a cron expression: ${problem}`, input: expression });
  }),
);

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 24 * 3600 } as const;
/** Ten years: longer is surely a typo, and Temporal keeps intervals as durations of limited range. */
const MAX_EVERY_SECONDS = 3650 * 24 * 3600;
const every = z
  .string()
  .regex(/^\d+(s|m|h|d)$/, 'must be a number with s, m, h or d, e.g. 90d')
  .refine((text) => {
    const seconds = Number(text.slice(0, -1)) * UNIT_SECONDS[text.at(-1) as keyof typeof UNIT_SECONDS];
    return seconds >= 1 && seconds <= MAX_EVERY_SECONDS;
  }, 'must be at least 1s and at most 3650d');

/**
 * One entry of a schedules file (schedules/schedules.yaml): a Temporal Schedule that starts a catalog
 * workflow with a fixed input. `cluster-ops schedules apply` creates or updates them.
 */
export const ScheduleEntry = z
  .strictObject({
    /** The Schedule's id on the server. */
    id: z
      .string()
      .max(200, { abort: true })
      .regex(/^[a-z0-9][-a-z0-9.]*$/, 'must be lowercase letters, digits, dots and dashes'),
    /** A workflow name from the catalog (`cluster-ops workflows`). */
    workflow: z.string().min(1),
    /** The workflow input, checked with the workflow's own schema before anything reaches the server. */
    input: z.unknown().optional(),
    /** Or the input read from a YAML/JSON file, relative to the schedules file. */
    inputFile: z.string().min(1).optional(),
    /** Workflow id of each run (Temporal appends the start time); default: the catalog's id for the input. */
    workflowId: workflowIdInput.optional(),
    /** Cron expressions (UTC), or `every` as an interval such as 90d or 24h. */
    cron: z.array(cronExpression).min(1).optional(),
    every: every.optional(),
    paused: z.boolean().default(false),
    note: z.string().default(''),
    /** What happens when the previous run is still going: skip the new one by default. */
    overlap: z.enum(['SKIP', 'BUFFER_ONE', 'ALLOW_ALL']).default('SKIP'),
  })
  .check(
    z.superRefine((entry, ctx) => {
      if ((entry.cron === undefined) === (entry.every === undefined)) {
        ctx.addIssue({ code: 'custom', path: ['cron'], message: 'give exactly one of cron and every' });
      }
      if (entry.input !== undefined && entry.inputFile !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['inputFile'], message: 'give input or inputFile, not both' });
      }
    }),
  );
export type ScheduleEntry = z.output<typeof ScheduleEntry>;

export const ScheduleFile = z.strictObject({
  schedules: z.array(ScheduleEntry).check(
    z.superRefine((entries, ctx) => {
      const ids = entries.map((e) => e.id);
      const duplicate = ids.find((id, i) => ids.indexOf(id) !== i);
      if (duplicate) ctx.addIssue({ code: 'custom', message: `schedule ${duplicate} is listed twice` });
    }),
  ),
});
