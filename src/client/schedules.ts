import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Client, ScheduleOptionsAction, ScheduleSpec } from '@temporalio/client';
import { parse as parseYaml } from 'yaml';
import { ScheduleFile } from '../schemas/schedules.js';
import type { RunMetadata } from '../schemas/run-metadata.js';
import type { ScheduleEntry } from '../schemas/schedules.js';
import { describeIssues, safeParseInput } from '../schemas/validate.js';
import { isWorkflowName, workflowCatalog } from '../schemas/workflows.js';
import { UsageError } from './usage.js';

/** A schedule ready to send: its workflow's input already checked with that workflow's schema. */
export interface PlannedSchedule {
  entry: ScheduleEntry;
  input: unknown;
  workflowId: string;
  /** What the Temporal UI shows of each run the schedule starts. */
  metadata: RunMetadata;
}

function readData(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${what} ${path}: ${(error as Error).message}`);
  }
  try {
    return parseYaml(text) as unknown;
  } catch (error) {
    throw new UsageError(`${what} ${path} is not valid YAML: ${(error as Error).message}`);
  }
}

/**
 * Reads and checks a whole schedules file — every entry's workflow name and input — and reports every
 * problem at once; nothing is sent to the server unless the whole file is valid.
 */
export function planSchedules(path: string): PlannedSchedule[] {
  const parsed = ScheduleFile.safeParse(readData(path, 'schedules file'));
  if (!parsed.success) throw new UsageError(`${path}:\n${describeIssues(parsed.error, 'file')}`);
  const problems: string[] = [];
  const planned: PlannedSchedule[] = [];
  for (const entry of parsed.data.schedules) {
    if (!isWorkflowName(entry.workflow)) {
      problems.push(`${entry.id}: unknown workflow "${entry.workflow}"; known: ${Object.keys(workflowCatalog).join(', ')}`);
      continue;
    }
    let input: unknown;
    try {
      input = entry.inputFile ? readData(resolve(dirname(path), entry.inputFile), 'input file') : (entry.input ?? {});
    } catch (error) {
      problems.push(`${entry.id}: ${(error as Error).message}`);
      continue;
    }
    const catalogEntry = workflowCatalog[entry.workflow];
    const checked = safeParseInput(catalogEntry.input, input);
    if (!checked.success) {
      problems.push(`${entry.id}: invalid input for ${entry.workflow}:\n${describeIssues(checked.error)}`);
      continue;
    }
    planned.push({ entry, input, workflowId: entry.workflowId ?? catalogEntry.workflowId(checked.data), metadata: catalogEntry.metadata(checked.data) });
  }
  if (problems.length > 0) throw new UsageError(`${path}:\n${problems.join('\n')}`);
  return planned;
}

function specOf(entry: ScheduleEntry): ScheduleSpec {
  return entry.cron ? { cronExpressions: entry.cron } : { intervals: [{ every: entry.every as `${number}d` }] };
}

/** Creates each schedule, or updates it in place when it exists: running it twice changes nothing more. */
export async function applySchedules(client: Client, taskQueue: string, planned: PlannedSchedule[]) {
  // Loaded here, not with the module: the CLI plans (and refuses) a file without the Temporal client.
  const { ScheduleNotFoundError, ScheduleOverlapPolicy } = await import('@temporalio/client');
  const results: { id: string; action: 'created' | 'updated' }[] = [];
  for (const { entry, input, workflowId, metadata } of planned) {
    const spec = specOf(entry);
    // The raw input, as `start` sends it: the workflow applies the same defaults itself.
    const action: ScheduleOptionsAction = { type: 'startWorkflow', workflowType: entry.workflow, taskQueue, workflowId, args: [input], ...metadata };
    const overlap = ScheduleOverlapPolicy[entry.overlap];
    const handle = client.schedule.getHandle(entry.id);
    try {
      await handle.describe();
      await handle.update((previous) => ({
        ...previous,
        spec,
        action,
        policies: { ...previous.policies, overlap },
        state: { ...previous.state, paused: entry.paused, note: entry.note },
      }));
      results.push({ id: entry.id, action: 'updated' });
    } catch (error) {
      if (!(error instanceof ScheduleNotFoundError)) throw error;
      await client.schedule.create({ scheduleId: entry.id, spec, action, policies: { overlap }, state: { paused: entry.paused, note: entry.note } });
      results.push({ id: entry.id, action: 'created' });
    }
  }
  return results;
}
