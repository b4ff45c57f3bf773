import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';

export function createTemporalActivities() {
  return {
    /** Which of these workflow ids has a run in progress now (through the worker's own Temporal client). */
    async runningWorkflows({ ids }: { ids: string[] }): Promise<string[]> {
      const { client } = Context.current();
      const running: string[] = [];
      for (const id of ids) {
        const description = await client.workflow.getHandle(id).describe().catch((error: unknown) => {
          if (error instanceof WorkflowNotFoundError) return undefined;
          throw error;
        });
        if (description?.status.name === 'RUNNING') running.push(id);
      }
      return running;
    },
  };
}
