import { WorkflowNotFoundError } from '@temporalio/client';
import type { Client } from '@temporalio/client';

/**
 * Whether this run (the workflow id's latest run when runId is absent) is in progress. A run Temporal does
 * not know (never started, or closed and past retention) is not; a run that continued as new is, while the
 * workflow id's latest run is.
 */
export async function isRunInProgress(client: Client, workflowId: string, runId?: string): Promise<boolean> {
  const description = await client.workflow
    .getHandle(workflowId, runId)
    .describe()
    .catch((error: unknown) => {
      if (error instanceof WorkflowNotFoundError) return undefined;
      throw error;
    });
  if (description?.status.name === 'CONTINUED_AS_NEW' && runId !== undefined) return isRunInProgress(client, workflowId);
  return description?.status.name === 'RUNNING';
}
