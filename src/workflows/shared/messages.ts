import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { Progress } from '../../schemas/progress.js';

/** Every long workflow answers these; the CLI and the Temporal UI use the same names. */
export const progressQuery = defineQuery<Progress>('progress');
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
export const abortSignal = defineSignal<[reason?: string]>('abort');
