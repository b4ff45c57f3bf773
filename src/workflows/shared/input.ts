import { patched, proxyLocalActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { z } from 'zod';
import type { Activities } from '../../activities/index.js';
import { RECORDING_INPUT } from '../../schemas/progress.js';
import { parseWorkflowInput } from '../../schemas/validate.js';
import { progressQuery } from './messages.js';

const { recordParsedInput } = proxyLocalActivities<Activities>({ startToCloseTimeout: '10 seconds' });

/**
 * The run's input, parsed once, when the run starts. Bad input fails the run at once (InvalidInput), before
 * anything happens. Good input is recorded in the history as parsed, defaults included, by a local activity:
 * on replay the recorded value is used, so changing a schema default never changes a run in flight.
 * (Runs started before this existed replay as they ran: they re-parse, as they did.)
 */
export async function inputFixedAtStart<S extends z.ZodType>(schema: S, raw: unknown): Promise<z.output<S>> {
  const parsed = parseWorkflowInput(schema, raw);
  if (!patched('input-fixed-at-start')) return parsed;
  // Until the workflow sets up its own progress, a progress query gets an answer, not an error.
  setHandler(progressQuery, () => ({ operation: workflowInfo().workflowType, phase: RECORDING_INPUT, paused: false, steps: [] }));
  return (await recordParsedInput({ input: parsed })).input;
}
