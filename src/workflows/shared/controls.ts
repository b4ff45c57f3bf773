import { CancellationScope, condition, setHandler } from '@temporalio/workflow';
import { badReason, handleCommand } from './commands.js';
import { abortCommand, pauseCommand, progressQuery, resumeCommand } from './messages.js';
import type { ProgressTracker } from './progress.js';

export interface ControlOptions {
  /** Told of an accepted abort, e.g. to pass it on to running children. */
  onAbort?: (reason: string) => void;
}

/**
 * What every long workflow offers its operator: the progress query, and pause and resume between steps
 * and abort at the next step, as validated commands (a second pause, a resume of a running run or a
 * second abort is rejected with the reason).
 */
export class OperatorControls {
  paused = false;
  abortReason: string | undefined;

  constructor(
    private readonly progress: ProgressTracker,
    options: ControlOptions = {},
  ) {
    setHandler(progressQuery, () => progress.snapshot());
    handleCommand(pauseCommand, {
      reject: () => (this.abortReason ? `already aborting (${this.abortReason})` : this.paused ? 'already paused' : undefined),
      apply: () => this.setPaused(true, 'paused: the run stops before its next step'),
    });
    handleCommand(resumeCommand, {
      reject: () => (this.paused ? undefined : 'not paused'),
      apply: () => this.setPaused(false, 'resumed'),
    });
    handleCommand(abortCommand, {
      reject: (reason) => (this.abortReason ? `already aborting (${this.abortReason})` : badReason(reason)),
      apply: (reason) => {
        this.abortReason = reason || 'aborted by operator';
        options.onAbort?.(this.abortReason);
        return `aborting: ${this.abortReason}`;
      },
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

  /** Runs a long wait that an abort stops at once (it is cancelled; the caller sees a cancellation). */
  untilAborted<T>(wait: () => Promise<T>): Promise<T> {
    const scope = new CancellationScope();
    // This wait is itself cancelled with the workflow: that is no error.
    void condition(() => this.aborted).then(
      () => scope.cancel(),
      () => undefined,
    );
    return scope.run(wait);
  }

  /** A run continued as new from a paused one stays paused. */
  stayPaused(): void {
    this.setPaused(true, '');
  }

  private setPaused(paused: boolean, answer: string): string {
    this.paused = paused;
    this.progress.paused = paused;
    return answer;
  }
}
