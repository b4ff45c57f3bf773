import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Client } from '@temporalio/client';

/**
 * Whether this run (the workflow id's latest run when runId is absent) is in progress. A run Temporal does
 * not know (never started, or closed and past retention) is not.
 */
export async function isRunInProgress(client: Client, workflowId: string, runId?: string): Promise<boolean> {
  const description = await client.workflow.getHandle(workflowId, runId).describe().catch((error: unknown) => {
    if (error instanceof WorkflowNotFoundError) return undefined;
    throw error;
  });
  return description?.status.name === 'RUNNING';
}

export function createTemporalActivities() {
  return {
    /** Which of these workflow ids has a run in progress now (through the worker's own Temporal client). */
    async runningWorkflows({ ids }: { ids: string[] }): Promise<string[]> {
      const { client } = Context.current();
      const running: string[] = [];
      for (const id of ids) {
        if (await isRunInProgress(client, id)) running.push(id);
      }
      return running;
    },
  };
}
