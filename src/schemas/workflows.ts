import type { z } from 'zod';
import { DrainNodeInput } from './drain-node.js';

/** The workflows a person can start, with the input schema the workflow itself validates. */
export const workflowCatalog = {
  drainNode: {
    input: DrainNodeInput,
    summary: 'cordon a node and evict its pods, respecting PodDisruptionBudgets',
    /** Workflow ids derive from the target so two runs on one node collide instead of racing. */
    workflowId: (input: z.output<typeof DrainNodeInput>) => `drain-node-${input.node}`,
  },
} as const;

export type WorkflowName = keyof typeof workflowCatalog;

export function isWorkflowName(name: string): name is WorkflowName {
  return Object.hasOwn(workflowCatalog, name);
}
