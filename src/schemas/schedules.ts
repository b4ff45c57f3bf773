import { z } from 'zod';

/**
 * One entry of a schedules file (schedules/schedules.yaml): a Temporal Schedule that starts a catalog
 * workflow with a fixed input. `cluster-ops schedules apply` creates or updates them.
 */
export const ScheduleEntry = z
  .strictObject({
    /** The Schedule's id on the server. */
    id: z.string().regex(/^[a-z0-9][-a-z0-9.]*$/, 'must be lowercase letters, digits, dots and dashes'),
    /** A workflow name from the catalog (`cluster-ops workflows`). */
    workflow: z.string().min(1),
    /** The workflow input, checked with the workflow's own schema before anything reaches the server. */
    input: z.unknown().optional(),
    /** Or the input read from a YAML/JSON file, relative to the schedules file. */
    inputFile: z.string().min(1).optional(),
    /** Workflow id of each run (Temporal appends the start time); default: the catalog's id for the input. */
    workflowId: z.string().min(1).optional(),
    /** Cron expressions (UTC), or `every` as an interval such as 90d or 24h. */
    cron: z.array(z.string().min(1)).min(1).optional(),
    every: z
      .string()
      .regex(/^\d+(ms|s|m|h|d)$/, 'must be a number with ms, s, m, h or d, e.g. 90d')
      .optional(),
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
