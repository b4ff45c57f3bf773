import { ApplicationFailure, defineSignal, defineUpdate, log, setHandler } from '@temporalio/workflow';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import { FailureType } from '../../failures.js';

/**
 * An operator command, by one name, as an Update (the caller deserves an answer: the validator rejects a
 * command that does not apply now, before anything reaches the run's history) and as a Signal (the
 * Temporal UI and Schedules send signals: one that does not apply is logged and dropped).
 */
export interface CommandDefinition<Args extends unknown[]> {
  name: string;
  update: UpdateDefinition<string, Args>;
  signal: SignalDefinition<Args>;
}

export function defineCommand<Args extends unknown[] = []>(name: string): CommandDefinition<Args> {
  return { name, update: defineUpdate<string, Args>(name), signal: defineSignal<Args>(name) };
}

export interface CommandHandler<Args extends unknown[]> {
  /**
   * Why the command does not apply now (unknown node, nothing failed, missing argument, already aborting),
   * or undefined. Arguments come from outside the type system (the CLI, the UI): check their shape here.
   */
  reject(...args: Args): string | undefined;
  /** Applies a command `reject` allowed; returns the answer for the caller. Never throws. */
  apply(...args: Args): string;
}

/** Answers `command` both ways. Neither handler throws inside the workflow, whatever arrives. */
export function handleCommand<Args extends unknown[]>(command: CommandDefinition<Args>, handler: CommandHandler<Args>): void {
  setHandler(command.update, (...args: Args) => handler.apply(...args), {
    validator: (...args: Args) => {
      const why = handler.reject(...args);
      if (why !== undefined)
        throw ApplicationFailure.create({ type: FailureType.CommandRejected, nonRetryable: true, message: `${command.name} rejected: ${why}` });
    },
  });
  setHandler(command.signal, (...args: Args) => {
    const why = handler.reject(...args);
    if (why === undefined) handler.apply(...args);
    else log.warn(`${command.name} signal ignored: ${why}`);
  });
}

/** An optional free-text reason: absent, or a string. */
export const badReason = (reason: unknown): string | undefined =>
  reason === undefined || reason === null || typeof reason === 'string' ? undefined : 'the reason must be a string';
