import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { Progress } from '../../schemas/progress.js';

/** Every long workflow answers these; the CLI and the Temporal UI use the same names. */
export const progressQuery = defineQuery<Progress>('progress');
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
export const abortSignal = defineSignal<[reason?: string]>('abort');

/** Per-node child workflows tell their parent rollout where they are. */
export interface NodeProgressUpdate {
  node: string;
  step: string;
  phase: 'running' | 'done' | 'failed' | 'skipped';
  message?: string;
}
export const nodeProgressSignal = defineSignal<[NodeProgressUpdate]>('nodeProgress');
export const approveSignal = defineSignal('approve');
export const rollbackSignal = defineSignal<[reason?: string]>('rollback');
/** Ends a node's maintenance (node maintenance runs): the operator's work on that node is finished. */
export const maintenanceDoneSignal = defineSignal<[node?: string]>('done');

/** A run waiting after a failed step tries that step again (after someone fixed the cause); bootstrapCluster's own 'retry' names a Kustomization. */
export const retryStepSignal = defineSignal('retry');
