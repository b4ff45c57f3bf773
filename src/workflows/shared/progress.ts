import { setCurrentDetails } from '@temporalio/workflow';
import { progressMarkdown } from '../../schemas/progress.js';
import type { Progress, ProgressStep, StepPhase } from '../../schemas/progress.js';

/**
 * Keeps a workflow's progress for the `progress` query, and mirrors every change into the run's current
 * details, which the Temporal UI shows without a query (user metadata: no command, nothing a replay checks).
 * Workflow time comes from the sandbox's Date.
 */
export class ProgressTracker {
  private readonly progress: Progress;

  constructor(operation: string, steps: string[]) {
    this.progress = {
      operation,
      phase: 'starting',
      paused: false,
      steps: steps.map((name) => ({ name, phase: 'pending' })),
    };
    this.publish();
  }

  /** Query results are serialized on the spot, so handing out the live object is safe. */
  snapshot(): Progress {
    return this.progress;
  }

  set phase(phase: string) {
    this.progress.phase = phase;
    this.publish();
  }

  set paused(paused: boolean) {
    this.progress.paused = paused;
    this.publish();
  }

  addStep(name: string): void {
    if (this.progress.steps.some((s) => s.name === name)) return;
    this.progress.steps.push({ name, phase: 'pending' });
    this.publish();
  }

  /** Marks every step not started yet as skipped (a dry run, a run that stops early). */
  skipPending(message: string): void {
    for (const step of this.progress.steps) if (step.phase === 'pending') this.step(step.name, 'skipped', message);
  }

  step(name: string, phase: StepPhase, message?: string): void {
    const step = this.find(name);
    const now = new Date().toISOString();
    if (phase === 'running' && !step.startedAt) step.startedAt = now;
    if (phase === 'done' || phase === 'failed' || phase === 'skipped') step.finishedAt = now;
    step.phase = phase;
    if (message !== undefined) step.message = message;
    this.publish();
  }

  private publish(): void {
    setCurrentDetails(progressMarkdown(this.progress));
  }

  private find(name: string): ProgressStep {
    const step = this.progress.steps.find((s) => s.name === name);
    if (!step) throw new Error(`unknown progress step ${name}`);
    return step;
  }
}
