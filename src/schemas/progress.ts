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

/**
 * A run's progress as Markdown, for the Temporal UI's current details: where the run is and what it waits
 * for first, then a line per step.
 */
export function progressMarkdown({ phase, paused, steps }: Progress): string {
  const lines = steps.map((s) => `- ${s.phase === 'running' ? `**${s.name}**` : s.name}: ${s.phase}${s.message ? ` — ${s.message}` : ''}`);
  return [`**${paused ? 'paused' : 'now'}:** ${phase}`, ...(lines.length ? ['', ...lines] : [])].join('\n');
}
