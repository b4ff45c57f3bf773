import { patched, proxyLocalActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import { proxyRunbookActivities } from './activity-summaries.js';
import type { z } from 'zod';
import type { Activities } from '../../activities/index.js';
import type { InputTarget } from '../../activities/input-targets.js';
import { asRunFailure, FailureType } from '../../failures.js';
import { RECORDING_INPUT } from '../../schemas/progress.js';
import { HOOK_POINTS } from '../../schemas/rolling.js';
import type { RollingPolicy } from '../../schemas/rolling.js';
import { parseWorkflowInput } from '../../schemas/validate.js';
import { QUICK_CALLS } from './activity-options.js';
import { progressQuery } from './messages.js';
import { operationMetrics } from './metrics.js';

const { recordParsedInput } = proxyLocalActivities<Activities>({ startToCloseTimeout: '10 seconds' });
const { checkInputTargets } = proxyRunbookActivities(QUICK_CALLS);

/** What a run's input names that must exist before the run changes anything. */
export type TargetsOf<T> = (input: T) => InputTarget[];

/**
 * The run's input, parsed once, when the run starts. Bad input fails the run at once (InvalidInput), before
 * anything happens. Good input is recorded in the history as parsed, defaults included, by a local activity:
 * on replay the recorded value is used, so changing a schema default never changes a run in flight.
 * Then what the input names (`targetsOf`: nodes, namespaces, a Kustomization, a DaemonSet, Keycloak clients)
 * is looked up, read-only: one that does not exist fails the run at once too, InvalidInput naming its field,
 * instead of after a lock, a commit or a cordon. (Runs started before either existed replay as they ran.)
 */
export async function inputFixedAtStart<S extends z.ZodType>(schema: S, raw: unknown, targetsOf?: TargetsOf<z.output<S>>): Promise<z.output<S>> {
  // Before parsing: a run with bad input also ends (failed) in the SDK's counters, which the dashboard's
  // runs-in-progress panel subtracts from this one.
  operationMetrics.runStarted();
  const parsed = parseWorkflowInput(schema, raw);
  if (!patched('input-fixed-at-start')) return parsed;
  // Decided before the local activity: a replay knows a patch only in the workflow task that recorded it,
  // and a slow local activity ends that task, leaving what follows it to the next one.
  const checksTargets = targetsOf !== undefined && patched('input-targets-checked');
  // Until the workflow sets up its own progress, a progress query gets an answer, not an error.
  setHandler(progressQuery, () => ({ operation: workflowInfo().workflowType, phase: RECORDING_INPUT, paused: false, steps: [] }));
  const { input } = await recordParsedInput({ input: parsed });
  const targets = targetsOf && checksTargets ? targetsOf(input) : [];
  if (targets.length > 0) {
    await checkInputTargets({ targets }).catch((error: unknown) => {
      throw asRunFailure(error, [FailureType.InvalidInput]);
    });
  }
  return input;
}

/**
 * For a per-node child: a parent checked its nodes before starting it, and tells a node deleted since
 * (NodeGone) from a typo. Started on its own (from the Temporal UI), the child checks like any run.
 */
export const unlessChild =
  <T>(targetsOf: TargetsOf<T>): TargetsOf<T> =>
  (input) =>
    workflowInfo().parent ? [] : targetsOf(input);

export const nodeTargets = (nodes: string[], field = 'input.nodes'): InputTarget[] => nodes.map((name, i) => ({ field: `${field}.${i}`, kind: 'Node', name }));

/** The namespaces the hook Jobs are created in: a missing one would fail its hook mid-node, after the cordon. */
export const hookTargets = (hooks: RollingPolicy['hooks']): InputTarget[] =>
  HOOK_POINTS.flatMap((point) => {
    const hook = hooks[point];
    return hook ? [{ field: `input.hooks.${point}.namespace`, kind: 'Namespace' as const, name: hook.namespace }] : [];
  });
