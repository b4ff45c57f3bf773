import { patched, proxyActivities, proxyLocalActivities, setHandler, workflowInfo } from '@temporalio/workflow';
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

const { recordParsedInput } = proxyLocalActivities<Activities>({ startToCloseTimeout: '10 seconds' });
const { checkInputTargets } = proxyActivities<Activities>(QUICK_CALLS);

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

/**
 * Looks up what the input names (nodes, namespaces, a Kustomization, a DaemonSet, Keycloak clients) before
 * the run changes anything: one that does not exist fails the run at once, InvalidInput naming its field,
 * instead of after a lock, a commit or a cordon. (Runs started before this check existed replay without it.)
 */
export async function inputTargetsExist(targets: InputTarget[]): Promise<void> {
  if (targets.length === 0 || !patched('input-targets-checked')) return;
  await checkInputTargets({ targets }).catch((error: unknown) => {
    throw asRunFailure(error, [FailureType.InvalidInput]);
  });
}

/**
 * For a per-node child: a parent checked its nodes before starting it, and tells a node deleted since
 * (NodeGone) from a typo. Started on its own (from the Temporal UI), the child checks like any run.
 */
export async function inputTargetsExistUnlessChild(targets: InputTarget[]): Promise<void> {
  if (!workflowInfo().parent) await inputTargetsExist(targets);
}

export const nodeTargets = (nodes: string[], field = 'input.nodes'): InputTarget[] => nodes.map((name, i) => ({ field: `${field}.${i}`, kind: 'Node', name }));

/** The namespaces the hook Jobs are created in: a missing one would fail its hook mid-node, after the cordon. */
export const hookTargets = (hooks: RollingPolicy['hooks']): InputTarget[] =>
  HOOK_POINTS.flatMap((point) => {
    const hook = hooks[point];
    return hook ? [{ field: `input.hooks.${point}.namespace`, kind: 'Namespace' as const, name: hook.namespace }] : [];
  });
