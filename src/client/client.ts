import { Client, Connection, WorkflowUpdateFailedError } from '@temporalio/client';
import { dataConverterFromEnv } from '../codec.js';
import type { TemporalEnv } from '../config.js';
import { rootMessage } from '../failures.js';
import type { WorkflowName } from '../schemas/workflows.js';
import { temporalConnectionOptions } from '../temporal-connection.js';
import { clientTracingInterceptors } from '../tracing.js';
import type { Tracing } from '../tracing.js';
import { validateStart } from './usage.js';

/** The run refused an operator command (it does not apply now, or the run has no such command). */
export class CommandRefused extends Error {
  override name = 'CommandRefused';
}

/**
 * Sends an operator command as an Update and returns the run's answer. The run's validator refuses a
 * command that does not apply now before it reaches the run's history; the reason comes back here.
 */
export async function sendCommand(client: Client, workflowId: string, command: string, arg?: unknown): Promise<string> {
  const handle = client.workflow.getHandle(workflowId);
  try {
    return arg === undefined ? await handle.executeUpdate<string, []>(command) : await handle.executeUpdate<string, [unknown]>(command, { args: [arg] });
  } catch (error) {
    if (error instanceof WorkflowUpdateFailedError) throw new CommandRefused(`${workflowId} refused ${command}: ${rootMessage(error)}`);
    throw error;
  }
}

/** With `tracing`, each start, signal, update and query is a span that the run it reaches continues. */
export async function connectClient(env: TemporalEnv, tracing?: Tracing): Promise<Client> {
  const connection = await Connection.connect({ ...temporalConnectionOptions(env), connectTimeout: '5 seconds' });
  return new Client({
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    dataConverter: dataConverterFromEnv(env),
    interceptors: { workflow: clientTracingInterceptors(tracing) },
  });
}

export async function startWorkflow(client: Client, taskQueue: string, workflow: string, rawInput: unknown, workflowId?: string) {
  const valid = validateStart(workflow, rawInput);
  // The raw input goes into history, not the parsed one: the workflow applies the same defaults itself,
  // so a later change of default is visible in the run that used it.
  return client.workflow.start(valid.workflow as WorkflowName, {
    taskQueue,
    workflowId: workflowId ?? valid.defaultId,
    args: [rawInput as never],
    ...valid.metadata,
  });
}
