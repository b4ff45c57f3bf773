import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { Progress } from '../../schemas/progress.js';
import { defineCommand } from './commands.js';

/** Every long workflow answers these; the CLI and the Temporal UI use the same names. */
export const progressQuery = defineQuery<Progress>('progress');
export const pauseCommand = defineCommand('pause');
export const resumeCommand = defineCommand('resume');
export const abortCommand = defineCommand<[reason?: string]>('abort');

/** Per-node child workflows tell their parent rollout where they are. */
export interface NodeProgressUpdate {
  node: string;
  step: string;
  phase: 'running' | 'done' | 'failed' | 'skipped';
  message?: string;
}
export const nodeProgressSignal = defineSignal<[NodeProgressUpdate]>('nodeProgress');

/** sriovRollout: go on past an approval point; roll the change back. */
export const approveCommand = defineCommand('approve');
export const rollbackCommand = defineCommand<[reason?: string]>('rollback');
/** nodeMaintenance: the operator's work on a node in maintenance is finished (the node may be omitted when only one is). */
export const maintenanceDoneCommand = defineCommand<[node?: string]>('done');
/** A parent maintenance run ends its child's hold (the child accepts it only while it holds the node). */
export const endMaintenanceSignal = defineSignal('endMaintenance');

/** rotateOidcClient (and its parent): a run waiting after a failed step tries that step again. */
export const retryStepCommand = defineCommand('retry');
/** bootstrapCluster: reconcile a failed Kustomization again (fetching its source first), or give it up. */
export const retryKustomizationCommand = defineCommand<[name: string]>('retryKustomization');
export const skipKustomizationCommand = defineCommand<[name: string]>('skipKustomization');
