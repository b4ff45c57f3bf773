import { ApplicationFailure, condition, isCancellation, workflowInfo } from '@temporalio/workflow';
import { proxyRunbookActivities } from './shared/activity-summaries.js';
import { FailureType, namingField, rootMessage } from '../failures.js';
import type { z } from 'zod';
import { RotateOidcClientInput } from '../schemas/rotate-oidc-secrets.js';
import { QUICK_CALLS, WATCHES } from './shared/activity-options.js';
import { handleCommand } from './shared/commands.js';
import { OperatorControls } from './shared/controls.js';
import { retryStepCommand } from './shared/messages.js';
import { ProgressTracker } from './shared/progress.js';
import { inputFixedAtStart } from './shared/input.js';
import { operationMetrics } from './shared/metrics.js';

// Keycloak and Infisical answer in well under a second: a dead worker's call is retried within 30 s.
const { preflightOidcRotation, readExternalSecret, regenerateAndStoreSecret, verifyClientSecret, revokeRotatedSecret, restartWorkload } =
  proxyRunbookActivities({ ...QUICK_CALLS, startToCloseTimeout: '30 seconds' });
const { syncExternalSecret, waitForRollout } = proxyRunbookActivities({ ...WATCHES, heartbeatTimeout: '20 seconds' });

export const STEPS = ['preflight', 'regenerate', 'sync', 'restart', 'verify', 'soak', 'revoke'] as const;
type Step = (typeof STEPS)[number];

export interface RotateOidcClientResult {
  clientId: string;
  /** rotated: new secret everywhere, old one revoked; aborted: stopped by an operator (see revoked). */
  outcome: 'rotated' | 'aborted';
  /** Fingerprints (sha256 prefixes), never values. */
  previousFingerprint: string;
  newFingerprint?: string;
  regeneration?: 'regenerated' | 'stored-existing' | 'already-done';
  revoked: boolean;
  message: string;
}

/**
 * Rotates one OIDC client secret with zero downtime: preflight → regenerate in Keycloak + store in
 * Infisical (one idempotent step) → force the ExternalSecret to resync and wait for the new value in the
 * Kubernetes Secret → rollout-restart the consumers → verify the new secret at Keycloak's token endpoint →
 * soak (durable timer) → revoke the old secret and verify it is refused. Keycloak keeps the old secret
 * valid for the client policy's grace period, so consumers work throughout. A step that fails after the
 * regeneration never leads to a revoke: the run reports and waits for `retry` (that step again) or `abort`.
 */
export async function rotateOidcClient(rawInput: RotateOidcClientInput): Promise<RotateOidcClientResult> {
  const input = await inputFixedAtStart(RotateOidcClientInput, rawInput);
  const counted = (outcome: string) => operationMetrics.rotation({ client: input.client.clientId, outcome });
  return rotate(input).then(
    (result) => {
      counted(result.outcome);
      return result;
    },
    (error: unknown) => {
      counted(isCancellation(error) ? 'cancelled' : 'failed');
      throw error;
    },
  );
}

async function rotate({ client, policy }: z.output<typeof RotateOidcClientInput>): Promise<RotateOidcClientResult> {
  const { workflowId } = workflowInfo();
  const progress = new ProgressTracker('rotate-oidc-client', [...STEPS]);
  const controls = new OperatorControls(progress);
  let retries = 0;
  let failedStep: Step | undefined;
  handleCommand(retryStepCommand, {
    reject: () => (failedStep ? undefined : `no failed step is waiting (the run is ${progress.snapshot().phase})`),
    apply: () => {
      retries += 1;
      return `retrying ${failedStep}`;
    },
  });
  const secret = client.infisical;
  const externalSecret = { ...client.externalSecret, secret };

  // Preflight: nothing has changed yet, so any failure simply ends the run.
  progress.phase = 'preflight';
  progress.step('preflight', 'running');
  const pre = await preflightOidcRotation({
    clientId: client.clientId,
    secret,
    ensureClientPolicy: policy.ensureClientPolicy,
    clientPolicy: policy.clientPolicy,
  }).catch((error: unknown) => {
    throw namingField(error, FailureType.OidcClientNotFound, 'input.client.clientId');
  });
  const es = await readExternalSecret(externalSecret);
  if (!es.ready) {
    throw ApplicationFailure.nonRetryable(
      `ExternalSecret ${client.externalSecret.namespace}/${client.externalSecret.name} is not Ready (${es.message}): fix it before rotating`,
      FailureType.ExternalSecretNotReady,
    );
  }
  progress.step(
    'preflight',
    'done',
    `policy ${pre.clientPolicy.name}${pre.clientPolicy.created ? ' (created)' : ''}, grace ${pre.clientPolicy.graceSeconds}s; stored ${pre.stored.fingerprint}${pre.resuming ? '; resuming an earlier regeneration' : ''}`,
  );
  const result: RotateOidcClientResult = {
    clientId: client.clientId,
    outcome: 'aborted',
    previousFingerprint: pre.stored.fingerprint,
    revoked: false,
    message: '',
  };
  const stop = (message: string): RotateOidcClientResult => {
    progress.phase = 'aborted';
    return { ...result, outcome: 'aborted', message };
  };
  if (await controls.checkpoint()) return stop(`aborted before regeneration: ${controls.abortReason}`);

  progress.phase = 'regenerating';
  progress.step('regenerate', 'running');
  const regenerated = await regenerateAndStoreSecret({ clientId: client.clientId, secret, baseline: pre.stored.fingerprint });
  Object.assign(result, { newFingerprint: regenerated.fingerprint, regeneration: regenerated.action });
  progress.step(
    'regenerate',
    'done',
    `${regenerated.action}: ${pre.stored.fingerprint} → ${regenerated.fingerprint} (Infisical version ${regenerated.version})`,
  );

  // From here on the old secret must stay valid: a failed step waits for retry or abort, never revokes.
  const guarded = async <T>(step: Step, work: () => Promise<T>): Promise<T | undefined> => {
    for (;;) {
      if (await controls.checkpoint()) return undefined;
      progress.phase = step;
      progress.step(step, 'running');
      try {
        return await work();
      } catch (error) {
        if (isCancellation(error)) throw error;
        progress.step(step, 'failed', `${rootMessage(error)} — the old secret stays valid; send retry or abort`);
        progress.phase = `failed at ${step}: waiting for retry or abort`;
        failedStep = step;
        const wanted = retries + 1;
        await condition(() => retries >= wanted || controls.aborted);
        failedStep = undefined;
        if (controls.aborted) return undefined;
      }
    }
  };
  const abortedAfterRegeneration = () =>
    stop(`aborted after regeneration (${controls.abortReason}): the old secret was NOT revoked and stays valid for the grace period`);

  const synced = await guarded('sync', () =>
    syncExternalSecret({
      ...externalSecret,
      requestId: `${workflowId}-v${regenerated.version}-${retries}`,
      expectedFingerprint: regenerated.fingerprint,
      timeoutSeconds: policy.syncTimeoutSeconds,
    }),
  );
  if (!synced) return abortedAfterRegeneration();
  progress.step('sync', 'done', `Secret ${synced.target} holds ${regenerated.fingerprint}`);

  const restartedAt = new Date().toISOString();
  const restarted = await guarded('restart', async () => {
    for (const consumer of client.consumers) await restartWorkload({ ...consumer, restartedAt });
    for (const consumer of client.consumers) await waitForRollout({ ...consumer, timeoutSeconds: policy.rolloutTimeoutSeconds });
    return client.consumers.map((c) => `${c.kind} ${c.namespace}/${c.name}`);
  });
  if (!restarted) return abortedAfterRegeneration();
  progress.step('restart', 'done', restarted.length ? `rolled out ${restarted.join(', ')}` : 'no consumer to restart');

  const verified = await guarded('verify', () =>
    verifyClientSecret({ clientId: client.clientId, secret, version: regenerated.version, expectedFingerprint: regenerated.fingerprint, expect: 'accepted' }),
  );
  if (!verified) return abortedAfterRegeneration();
  progress.step('verify', 'done', `${regenerated.fingerprint} accepted at the token endpoint`);

  progress.phase = 'soaking';
  progress.step('soak', 'running', `old secret revoked after ${policy.soakSeconds}s`);
  if (await condition(() => controls.aborted, policy.soakSeconds * 1000)) return abortedAfterRegeneration();
  progress.step('soak', 'done');

  const revoked = await guarded('revoke', async () => {
    const outcome = await revokeRotatedSecret({ clientId: client.clientId, secret, previousFingerprint: pre.stored.fingerprint });
    await verifyClientSecret({
      clientId: client.clientId,
      secret,
      version: pre.stored.version,
      expectedFingerprint: pre.stored.fingerprint,
      expect: 'refused',
    });
    return outcome;
  });
  if (!revoked) return abortedAfterRegeneration();
  progress.step('revoke', 'done', `${pre.stored.fingerprint} ${revoked.revoked ? 'revoked' : 'was already gone'}; refused at the token endpoint`);
  progress.phase = 'rotated';
  return { ...result, outcome: 'rotated', revoked: true, message: `${pre.stored.fingerprint} → ${regenerated.fingerprint}` };
}
