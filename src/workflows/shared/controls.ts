import { condition, setHandler } from '@temporalio/workflow';
import { abortSignal, pauseSignal, resumeSignal } from './messages.js';
import type { ProgressTracker } from './progress.js';

/** Operator controls shared by long workflows: pause and resume between steps, abort at the next step. */
export class OperatorControls {
  paused = false;
  abortReason: string | undefined;

  constructor(private readonly progress: ProgressTracker) {
    setHandler(pauseSignal, () => this.setPaused(true));
    setHandler(resumeSignal, () => this.setPaused(false));
    setHandler(abortSignal, (reason) => {
      this.abortReason = reason ?? 'aborted by operator';
    });
  }

  get aborted(): boolean {
    return this.abortReason !== undefined;
  }

  /** Call between steps: blocks while paused; returns true when the run should stop. */
  async checkpoint(): Promise<boolean> {
    await condition(() => !this.paused || this.aborted);
    return this.aborted;
  }

  private setPaused(paused: boolean) {
    this.paused = paused;
    this.progress.paused = paused;
  }
}
