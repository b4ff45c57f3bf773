/** What every long workflow answers to the `progress` query; the CLI renders it as a table. */
export type StepPhase = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

export interface ProgressStep {
  name: string;
  phase: StepPhase;
  startedAt?: string;
  finishedAt?: string;
  message?: string;
}

/** The phase a run shows while its input is recorded, before its handlers and progress are set up. */
export const RECORDING_INPUT = 'recording its input';

export interface Progress {
  operation: string;
  phase: string;
  paused: boolean;
  steps: ProgressStep[];
}
