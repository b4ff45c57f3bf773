import { ActivityFailure, ApplicationFailure } from '@temporalio/common';

/**
 * Every failure type cluster-ops raises (`ApplicationFailure.type`), in one place: workflows, activities, the
 * CLI and the tests use these names, and docs/failures.md explains each (test/unit/failures.test.ts keeps the
 * two in step). Pure and deterministic, so workflow code imports it too.
 */
export const FailureType = {
  // Input and configuration: never retried, nothing was touched.
  InvalidInput: 'InvalidInput',
  NotConfigured: 'NotConfigured',
  MetricsNotConfigured: 'MetricsNotConfigured',
  BadInventory: 'BadInventory',
  BadQuery: 'BadQuery',
  BadVfConfigFile: 'BadVfConfigFile',
  GitOpsFileMissing: 'GitOpsFileMissing',
  InvalidFluxGraph: 'InvalidFluxGraph',
  UnknownNode: 'UnknownNode',
  NoNodes: 'NoNodes',
  // Rolling operations.
  ClusterBusy: 'ClusterBusy',
  // An operator command (an Update) that does not apply now: rejected to the caller, the run untouched.
  CommandRejected: 'CommandRejected',
  NodeNotReady: 'NodeNotReady',
  NodeGone: 'NodeGone',
  NodeReplaced: 'NodeReplaced',
  DrainFailed: 'DrainFailed',
  DrainTimedOut: 'DrainTimedOut',
  DrainRefused: 'DrainRefused',
  HookFailed: 'HookFailed',
  HealthGateFailed: 'HealthGateFailed',
  VerificationFailed: 'VerificationFailed',
  RdmaPodsRunning: 'RdmaPodsRunning',
  RolloutStopped: 'RolloutStopped',
  PullRequestClosed: 'PullRequestClosed',
  MergeTimedOut: 'MergeTimedOut',
  BootstrapNodeFailed: 'BootstrapNodeFailed',
  // Waiting on the cluster.
  WaitTimedOut: 'WaitTimedOut',
  WatchedObjectFailed: 'WatchedObjectFailed',
  WorkloadNotFound: 'WorkloadNotFound',
  UnexpectedUpdateStrategy: 'UnexpectedUpdateStrategy',
  // Flux.
  KustomizationNotFound: 'KustomizationNotFound',
  KustomizationSuspended: 'KustomizationSuspended',
  // OIDC secret rotation.
  OidcClientNotFound: 'OidcClientNotFound',
  SecretRotationNotPossible: 'SecretRotationNotPossible',
  SecretDrift: 'SecretDrift',
  SecretVerificationFailed: 'SecretVerificationFailed',
  ExternalSecretNotReady: 'ExternalSecretNotReady',
  ExternalSecretIgnoresForceSync: 'ExternalSecretIgnoresForceSync',
  SecretStoreNotReady: 'SecretStoreNotReady',
  TargetSecretNotOwned: 'TargetSecretNotOwned',
  ExternalSecretSyncFailed: 'ExternalSecretSyncFailed',
  InfisicalSecretMissing: 'InfisicalSecretMissing',
  InfisicalApprovalRequired: 'InfisicalApprovalRequired',
  InfisicalUnauthorized: 'InfisicalUnauthorized',
  RotationStopped: 'RotationStopped',
  // NCCL jobs.
  BadConfig: 'BadConfig',
  NodesUnavailable: 'NodesUnavailable',
  NcclParseFailed: 'NcclParseFailed',
  NcclJobFailed: 'NcclJobFailed',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** Failures that mean the node itself is no longer the one we started on: no cordon of ours is left on it. */
export const NODE_LOST_TYPES: readonly FailureType[] = [FailureType.NodeGone, FailureType.NodeReplaced];

/** The root failure message, not the "Activity task failed" / "Child Workflow execution failed" wrappers. */
export function rootMessage(error: unknown): string {
  let current = error as { cause?: unknown; message?: string } | undefined;
  while (current?.cause) current = current.cause as typeof current;
  return current?.message ?? String(error);
}

/** The first failure type along the cause chain that is one of `types`, e.g. NodeGone under a child's failure. */
export function failureTypeIn(error: unknown, types: readonly FailureType[]): FailureType | undefined {
  for (let e = error as { type?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    const type = types.find((t) => t === e!.type);
    if (type) return type;
  }
  return undefined;
}

/**
 * An activity's failure of one of `types` as the run's own failure: the refusal itself (ClusterBusy,
 * InvalidInput), not "activity task failed" around it. Any other error comes back as it is.
 */
export function asRunFailure(error: unknown, types: readonly FailureType[]): unknown {
  return error instanceof ActivityFailure && failureTypeIn(error, types) ? error.cause : error;
}

/** An activity's failure of `type` as the run's own, its message led by the input field it is about. */
export function namingField(error: unknown, type: FailureType, field: string): unknown {
  const cause = error instanceof ActivityFailure ? error.cause : undefined;
  if (!(cause instanceof ApplicationFailure) || cause.type !== type) return error;
  return ApplicationFailure.create({ type, nonRetryable: true, message: `${field}: ${cause.message}`, cause });
}

/**
 * Runs pure domain code on data read from the cluster or Git. Its own error class means the data is bad,
 * which no retry can fix: that becomes a non-retryable failure of `type`, the message kept (after `prefix`).
 */
export function failForGoodOn<T>(errorClass: abstract new (...args: never[]) => Error, type: FailureType, work: () => T, prefix = ''): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof errorClass) throw ApplicationFailure.nonRetryable(`${prefix}${error.message}`, type);
    throw error;
  }
}

/** An activity whose integration this worker was not given (its environment variables are unset). */
export const notConfigured = (what: string) =>
  ApplicationFailure.nonRetryable(`${what} is not configured on this worker (see docs/operations.md)`, FailureType.NotConfigured);
