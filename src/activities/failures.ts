import { ApplicationFailure } from '@temporalio/common';

/**
 * Runs pure domain code on data read from the cluster or Git. Its own error class means the data is bad,
 * which no retry can fix: that becomes a non-retryable failure of `type`, the message kept (after `prefix`).
 */
export function failForGoodOn<T>(errorClass: abstract new (...args: never[]) => Error, type: string, work: () => T, prefix = ''): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof errorClass) throw ApplicationFailure.nonRetryable(`${prefix}${error.message}`, type);
    throw error;
  }
}

/** An activity whose integration this worker was not given (its environment variables are unset). */
export const notConfigured = (what: string) =>
  ApplicationFailure.nonRetryable(`${what} is not configured on this worker (see docs/operations.md)`, 'NotConfigured');
