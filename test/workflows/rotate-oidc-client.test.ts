import { WorkflowFailedError } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { provisionConsumer } from '../../lab/oidc.js';
import { fingerprint } from '../../src/activities/fingerprint.js';
import { tryClientSecret } from '../../src/activities/keycloak/admin.js';
import type { Progress } from '../../src/schemas/progress.js';
import type { OidcClientTarget, RotateOidcClientInput } from '../../src/schemas/rotate-oidc-secrets.js';
import { rotateOidcClient } from '../../src/workflows/rotate-oidc-client.js';
import type { RotateOidcClientResult } from '../../src/workflows/rotate-oidc-client.js';
import { createTestClient, keycloakDeps, secretsOf } from '../helpers/keycloak.js';
import type { TestClient } from '../helpers/keycloak.js';
import { eventually, TestCluster, uniqueName } from '../helpers/kube.js';
import { startOidcTestBed } from '../helpers/oidc.js';
import type { OidcTestBed } from '../helpers/oidc.js';
import { rejectionOf, timeSkippingEnvironment, withWorker } from '../helpers/temporal.js';
import { FailureType } from '../../src/failures.js';

// The per-client rotation on the time-skipping server with the real activities: real Keycloak, the fake
// Infisical through its SDK, the real ESO controller and KWOK-run consumers on the real API server.
let env: TestWorkflowEnvironment;
let cluster: TestCluster;
let bed: OidcTestBed;

beforeAll(async () => {
  [env, cluster] = await Promise.all([timeSkippingEnvironment(), TestCluster.create('rotate')]);
  bed = await startOidcTestBed(cluster);
}, 420_000);
afterAll(async () => {
  await bed?.stop();
  await Promise.all([env?.teardown(), cluster?.close()]);
});

const SOAK_SECONDS = 6 * 3600;
const policy = { soakSeconds: SOAK_SECONDS, ensureClientPolicy: true, clientPolicy: { graceSeconds: 2 * 24 * 3600 } };

function rotate(
  target: OidcClientTarget,
  drive: (handle: WorkflowHandle<typeof rotateOidcClient>) => Promise<void> = async () => undefined,
  input?: RotateOidcClientInput,
) {
  return withWorker(env, bed.deps, async (taskQueue) => {
    const handle = await env.client.workflow.start(rotateOidcClient, {
      taskQueue,
      workflowId: uniqueName('rotate'),
      args: [input ?? { client: target, policy }],
    });
    await drive(handle);
    const outcome: { result?: RotateOidcClientResult; error?: unknown } = await handle.result().then(
      (result) => ({ result }),
      (error: unknown) => ({ error }),
    );
    const history = await handle.fetchHistory();
    return { ...outcome, handle, history };
  });
}

const progressOf = (handle: WorkflowHandle) => handle.query<Progress>('progress');
const stepOf = async (handle: WorkflowHandle, name: string) => (await progressOf(handle)).steps.find((s) => s.name === name);
const activitiesIn = (history: Awaited<ReturnType<WorkflowHandle['fetchHistory']>>) =>
  (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType!.name!] : []));
const accepted = (client: TestClient, secret: string) => tryClientSecret(keycloakDeps(), client.clientId, secret);

test('rotates with a soak on a durable timer, then revokes the old secret', async () => {
  const client = await createTestClient('soak');
  const target = await bed.target(client);
  const { result, history } = await rotate(target);

  expect(result).toMatchObject({ outcome: 'rotated', revoked: true, regeneration: 'regenerated', previousFingerprint: fingerprint(client.secret) });
  const now = await secretsOf(client.clientId);
  expect(now.rotated).toBeUndefined();
  expect(fingerprint(now.current)).toBe(result!.newFingerprint);
  expect(await bed.consumerSecret(target)).toBe(now.current);
  expect(await accepted(client, now.current)).toBe('accepted');
  expect(await accepted(client, client.secret)).toBe('refused');
  // One soak timer of the configured length, and the revoke only after it fired.
  const events = history.events ?? [];
  const timers = events.filter((e) => e.timerStartedEventAttributes);
  expect(timers.map((e) => Number(e.timerStartedEventAttributes!.startToFireTimeout!.seconds))).toEqual([SOAK_SECONDS]);
  const fired = events.findIndex((e) => e.timerFiredEventAttributes);
  const revoke = events.findIndex((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'revokeRotatedSecret');
  expect(fired).toBeGreaterThan(0);
  expect(revoke).toBeGreaterThan(fired);
  expect(activitiesIn(history).filter((name) => name === 'regenerateAndStoreSecret')).toHaveLength(1);
});

/** A client whose consumer Deployment does not exist yet: the restart step fails after the regeneration. */
async function clientWithMissingConsumer(prefix: string) {
  const client = await createTestClient(prefix);
  const target = await bed.target(client, { consumers: 0 });
  const consumer = { kind: 'Deployment' as const, namespace: cluster.namespace, name: `${client.clientId}-late` };
  return { client, target: { ...target, consumers: [consumer] }, consumer };
}

async function waitUntilFailedAt(handle: WorkflowHandle, step: string) {
  await eventually(async () => (await stepOf(handle, step))?.phase === 'failed', `${step} to fail`, 60_000);
}

test('a failure after regeneration never revokes: the old secret keeps working until retry, which finishes the rotation', async () => {
  const { client, target, consumer } = await clientWithMissingConsumer('retry');
  const { result, history } = await rotate(target, async (handle) => {
    await waitUntilFailedAt(handle, 'restart');
    expect((await progressOf(handle)).phase).toBe('failed at restart: waiting for retry or abort');
    expect((await stepOf(handle, 'restart'))?.message).toContain('does not exist');
    const during = await secretsOf(client.clientId);
    expect(during.rotated).toBe(client.secret);
    expect(await accepted(client, client.secret)).toBe('accepted');
    expect(await accepted(client, during.current)).toBe('accepted');
    // Someone fixes the cause, then asks for the step again.
    await provisionConsumer(cluster.kube, consumer, target.externalSecret.name, { nodeSelector: {} });
    expect(await handle.executeUpdate<string, []>('retry')).toBe('retrying restart');
    // The failed step is being tried again: a second retry has nothing to retry.
    expect(await rejectionOf(handle, 'retry')).toMatch(/^retry rejected: no failed step is waiting \(the run is /);
  });
  expect(result).toMatchObject({ outcome: 'rotated', revoked: true });
  expect(await accepted(client, client.secret)).toBe('refused');
  const scheduled = activitiesIn(history);
  expect(scheduled.filter((name) => name === 'regenerateAndStoreSecret')).toHaveLength(1);
  expect(scheduled.filter((name) => name === 'restartWorkload')).toHaveLength(2);
});

test('ESO failing the sync after regeneration: its own message in the report, the old secret valid, retry finishes', async () => {
  const client = await createTestClient('store-down');
  const target = await bed.target(client, { consumers: 0 });
  await eventually(async () => (await bed.consumerSecret(target)) === client.secret, 'ESO’s first sync');
  // ESO's machine identity loses its login after ESO last checked the store: preflight still sees a Ready
  // store and ExternalSecret, and ESO finds out at the force-sync.
  bed.infisical.revokeLogin(bed.esoIdentity);
  const { result, history } = await rotate(target, async (handle) => {
    await waitUntilFailedAt(handle, 'sync');
    const message = (await stepOf(handle, 'sync'))?.message;
    expect(message).toContain('could not get secret data from provider');
    expect(message).toContain('failed to authenticate via universal auth');
    expect(message).toContain('the old secret stays valid');
    expect(await accepted(client, client.secret)).toBe('accepted');
    expect(await bed.consumerSecret(target)).toBe(client.secret);
    bed.infisical.restoreLogin(bed.esoIdentity);
    expect(await handle.executeUpdate<string, []>('retry')).toBe('retrying sync');
  }).finally(() => bed.infisical.restoreLogin(bed.esoIdentity));
  expect(result).toMatchObject({ outcome: 'rotated', revoked: true });
  expect(fingerprint((await bed.consumerSecret(target))!)).toBe(result!.newFingerprint);
  const scheduled = activitiesIn(history);
  expect(scheduled.filter((name) => name === 'regenerateAndStoreSecret')).toHaveLength(1);
  expect(scheduled.filter((name) => name === 'syncExternalSecret')).toHaveLength(2);
});

test('abort after a failed step: run ends aborted, the old secret is not revoked', async () => {
  const { client, target } = await clientWithMissingConsumer('abort');
  const { result, history } = await rotate(target, async (handle) => {
    await waitUntilFailedAt(handle, 'restart');
    await handle.signal('abort', 'consumer gone for good');
  });
  expect(result).toMatchObject({ outcome: 'aborted', revoked: false });
  expect(result!.message).toContain('NOT revoked');
  expect(activitiesIn(history)).not.toContain('revokeRotatedSecret');
  const after = await secretsOf(client.clientId);
  expect(after.rotated).toBe(client.secret);
  expect(await accepted(client, client.secret)).toBe('accepted');
});

test('bad input fails at once with no side effect: an unknown client, a grace period shorter than the soak', async () => {
  const client = await createTestClient('bad');
  const target = await bed.target(client, { consumers: 0 });
  const unknown = await rotate(target, undefined, { client: { ...target, clientId: 'no-such-client' }, policy });
  expect(unknown.error).toBeInstanceOf(WorkflowFailedError);
  expect(((unknown.error as WorkflowFailedError).cause?.cause as { type?: string }).type).toBe(FailureType.OidcClientNotFound);
  expect(activitiesIn(unknown.history)).toEqual(['preflightOidcRotation']);

  const short = await rotate(target, undefined, { client: target, policy: { soakSeconds: 7200, clientPolicy: { graceSeconds: 3600 } } });
  const failure = (short.error as WorkflowFailedError).cause as { type?: string; message: string };
  expect(failure.type).toBe(FailureType.InvalidInput);
  expect(failure.message).toContain('input.policy.clientPolicy.graceSeconds');
  expect(activitiesIn(short.history)).toEqual([]);

  expect(bed.infisical.history({ ...target.infisical })).toEqual([client.secret]);
  expect(await secretsOf(client.clientId)).toEqual({ current: client.secret, rotated: undefined });
});
