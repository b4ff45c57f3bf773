import { setTimeout as delay } from 'node:timers/promises';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities } from '../../src/activities/index.js';
import {
  ESO_GROUP,
  ESO_VERSION,
  EXTERNAL_SECRETS,
  FORCE_SYNC_ANNOTATION,
  FORCE_SYNC_REQUEST_ANNOTATION,
  FORCE_SYNC_SUPERSEDES_ANNOTATION,
} from '../../src/activities/eso/external-secrets.js';
import type { ExternalSecret } from '../../src/activities/eso/external-secrets.js';
import type { OidcClientTarget } from '../../src/schemas/rotate-oidc-secrets.js';
import { adminClient, findClient, tryClientSecret } from '../../src/activities/keycloak/admin.js';
import { fingerprint } from '../../src/activities/fingerprint.js';
import { createTestClient, createTestRealm, keycloakDeps, secretsOf } from '../helpers/keycloak.js';
import { eventually, TestCluster } from '../helpers/kube.js';
import { startOidcTestBed } from '../helpers/oidc.js';
import type { OidcTestBed } from '../helpers/oidc.js';
import { activityRunner } from '../helpers/temporal.js';
import { FailureType } from '../../src/failures.js';

// The rotation activities against the real Keycloak and the real ESO controller (both started by global
// setup), the fake Infisical behind the real SDK (the worker's) and ESO's Go provider, on the real API server.
let cluster: TestCluster;
let bed: OidcTestBed;
let activities: ReturnType<typeof createActivities>;
const run = activityRunner();
const policy = { name: 'cluster-ops-secret-rotation', graceSeconds: 3600, expirationSeconds: 365 * 24 * 3600 };

beforeAll(async () => {
  cluster = await TestCluster.create('oidc');
  bed = await startOidcTestBed(cluster);
  activities = createActivities(bed.deps);
  // The shared wcloud realm gets the rotation policy once; the realm-level behaviour has its own test below.
  const setup = await createTestClient('oidc-setup');
  await run(activities.preflightOidcRotation, {
    clientId: setup.clientId,
    secret: (await bed.target(setup, { consumers: 0 })).infisical,
    ensureClientPolicy: true,
    clientPolicy: policy,
  });
}, 420_000);
afterAll(async () => {
  await bed?.stop();
  await cluster?.close();
});

const failureType = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApplicationFailure);
  return { type: (error as ApplicationFailure).type, nonRetryable: (error as ApplicationFailure).nonRetryable, message: (error as Error).message };
};

test('preflight refuses a realm without a secret-rotation policy, and creates one when asked (keeping existing policies)', async () => {
  const deps = await createTestRealm('rot');
  const kc = await adminClient(deps);
  await kc.clientPolicies.createProfiles({ profiles: [{ name: 'admins-own', executors: [] }] });
  const client = await createTestClient('policy', deps);
  const realmBed = createActivities({ ...bed.deps, keycloak: deps });
  const target = await bed.target(client, { consumers: 0 });
  const input = { clientId: client.clientId, secret: target.infisical, ensureClientPolicy: false, clientPolicy: policy };

  const refused = await failureType(run(realmBed.preflightOidcRotation, input));
  expect(refused).toMatchObject({ type: FailureType.SecretRotationNotPossible, nonRetryable: true });
  expect(refused.message).toContain('secret-rotation');

  const result = await run(realmBed.preflightOidcRotation, { ...input, ensureClientPolicy: true });
  expect(result.clientPolicy).toEqual({ name: policy.name, created: true, graceSeconds: 3600 });
  expect(result.stored.fingerprint).toBe(fingerprint(client.secret));
  expect(result.keycloak.current).toBe(fingerprint(client.secret));
  const profiles = await kc.clientPolicies.listProfiles({});
  expect(profiles.profiles?.map((p) => p.name).sort()).toEqual(['admins-own', policy.name]);
  // A second preflight finds it and creates nothing.
  expect((await run(realmBed.preflightOidcRotation, { ...input, ensureClientPolicy: true })).clientPolicy.created).toBe(false);
}, 120_000);

test('regenerate keeps the old secret in the rotated slot, stores the new one, and a retry does not regenerate again', async () => {
  const client = await createTestClient('regen');
  const target = await bed.target(client, { consumers: 0 });
  const baseline = fingerprint(client.secret);
  const input = { clientId: client.clientId, secret: target.infisical, baseline };

  const first = await run(activities.regenerateAndStoreSecret, input);
  expect(first.action).toBe('regenerated');
  expect(first.fingerprint).not.toBe(baseline);
  const after = await secretsOf(client.clientId);
  expect(after.rotated).toBe(client.secret);
  expect(fingerprint(after.current)).toBe(first.fingerprint);
  expect(bed.infisical.history({ ...target.infisical })).toEqual([client.secret, after.current]);
  // Both secrets work during the grace period.
  expect(await tryClientSecret(keycloakDeps(), client.clientId, client.secret)).toBe('accepted');
  expect(await tryClientSecret(keycloakDeps(), client.clientId, after.current)).toBe('accepted');

  const retry = await run(activities.regenerateAndStoreSecret, input);
  expect(retry).toEqual({ action: 'already-done', fingerprint: first.fingerprint, version: first.version });
  expect(await secretsOf(client.clientId)).toEqual(after);
  expect(bed.infisical.history({ ...target.infisical })).toHaveLength(2);
});

test('already regenerated but not stored (a crash in between): stores Keycloak’s secret, no second regeneration', async () => {
  const client = await createTestClient('crash');
  const target = await bed.target(client, { consumers: 0 });
  const deps = keycloakDeps();
  const kc = await adminClient(deps);
  const { id } = await findClient(kc, deps, client.clientId);
  const generated = (await kc.clients.generateNewClientSecret({ id })).value!;

  const preflight = await run(activities.preflightOidcRotation, {
    clientId: client.clientId,
    secret: target.infisical,
    ensureClientPolicy: false,
    clientPolicy: policy,
  });
  expect(preflight.resuming).toBe(true);
  const result = await run(activities.regenerateAndStoreSecret, {
    clientId: client.clientId,
    secret: target.infisical,
    baseline: preflight.stored.fingerprint,
  });
  expect(result.action).toBe('stored-existing');
  expect(result.fingerprint).toBe(fingerprint(generated));
  expect(await secretsOf(client.clientId)).toEqual({ current: generated, rotated: client.secret });
  expect(bed.infisical.history({ ...target.infisical })).toEqual([client.secret, generated]);
});

test('revoke deletes the rotated secret: the old one is refused, the new one works; a retry is a no-op', async () => {
  const client = await createTestClient('revoke');
  const target = await bed.target(client, { consumers: 0 });
  const regenerated = await run(activities.regenerateAndStoreSecret, {
    clientId: client.clientId,
    secret: target.infisical,
    baseline: fingerprint(client.secret),
  });
  const revokeInput = { clientId: client.clientId, secret: target.infisical, previousFingerprint: fingerprint(client.secret) };

  expect(await run(activities.revokeRotatedSecret, revokeInput)).toEqual({ revoked: true });
  expect(await run(activities.revokeRotatedSecret, revokeInput)).toEqual({ revoked: false });
  const verify = { clientId: client.clientId, secret: target.infisical };
  await expect(
    run(activities.verifyClientSecret, { ...verify, version: regenerated.version - 1, expectedFingerprint: fingerprint(client.secret), expect: 'refused' }),
  ).resolves.toMatchObject({ verdict: 'refused' });
  await expect(
    run(activities.verifyClientSecret, { ...verify, version: regenerated.version, expectedFingerprint: regenerated.fingerprint, expect: 'accepted' }),
  ).resolves.toMatchObject({ verdict: 'accepted' });
  const wrongExpectation = await failureType(
    run(activities.verifyClientSecret, { ...verify, version: regenerated.version - 1, expectedFingerprint: fingerprint(client.secret), expect: 'accepted' }),
  );
  expect(wrongExpectation).toMatchObject({ type: FailureType.SecretVerificationFailed, nonRetryable: true });
  expect(wrongExpectation.message).not.toContain(client.secret);
});

test('an unknown client fails for good; a path under an approval policy is refused and nothing is regenerated', async () => {
  const unknown = await failureType(
    run(activities.preflightOidcRotation, {
      clientId: 'no-such-client',
      secret: { projectId: 'p', environment: 'prod', secretPath: '/', secretName: 'X' },
      ensureClientPolicy: false,
      clientPolicy: policy,
    }),
  );
  expect(unknown).toMatchObject({ type: FailureType.OidcClientNotFound, nonRetryable: true });

  const client = await createTestClient('approval');
  const target = await bed.target(client, { consumers: 0 });
  bed.infisical.addApprovalPolicy({ projectId: target.infisical.projectId, environment: 'prod', secretPath: `/keycloak/${client.clientId}` });
  const gated = { ...target, infisical: { ...target.infisical, secretPath: `/keycloak/${client.clientId}/oidc` } };
  bed.infisical.seed({ ...gated.infisical }, client.secret);
  const refused = await failureType(
    run(activities.regenerateAndStoreSecret, { clientId: client.clientId, secret: gated.infisical, baseline: fingerprint(client.secret) }),
  );
  expect(refused).toMatchObject({ type: FailureType.InfisicalApprovalRequired, nonRetryable: true });
  // Keycloak did regenerate before the store was refused: the next attempt must only store.
  const state = await secretsOf(client.clientId);
  expect(state.rotated).toBe(client.secret);
  expect(bed.infisical.history({ ...gated.infisical })).toEqual([client.secret]);
});

const esoApi = { group: ESO_GROUP, version: ESO_VERSION, namespace: '', plural: EXTERNAL_SECRETS };
const readEs = (namespace: string, name: string) => cluster.kube.custom.getNamespacedCustomObject({ ...esoApi, namespace, name }) as Promise<ExternalSecret>;
const patchEs = (namespace: string, name: string, body: object) =>
  cluster.kube.custom.patchNamespacedCustomObject({ ...esoApi, namespace, name, body }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
const esOf = (target: OidcClientTarget) => ({ ...target.externalSecret, secret: target.infisical });
const synced = (target: OidcClientTarget) => eventually(async () => (await run(activities.readExternalSecret, esOf(target))).ready, 'ESO’s first sync');

test('ESO force-sync writes the new value into the consumer Secret; a retry asks no second time; rollout restart rolls the consumer', async () => {
  const client = await createTestClient('eso');
  const target = await bed.target(client, { consumers: 1 });
  const es = esOf(target);
  await synced(target);
  expect((await run(activities.readExternalSecret, es)).fingerprint).toBe(fingerprint(client.secret));

  const regenerated = await run(activities.regenerateAndStoreSecret, {
    clientId: client.clientId,
    secret: target.infisical,
    baseline: fingerprint(client.secret),
  });
  // ESO's first sync usually lands in the same second as this request: its refreshTime alone cannot tell
  // that sync (of the old value) from the one asked for, its syncedResourceVersion can.
  const syncedBefore = (await readEs(es.namespace, es.name)).status?.syncedResourceVersion;
  const requestedAfter = Math.floor(Date.now() / 1000);
  const result = await run(activities.syncExternalSecret, { ...es, requestId: 'rotation-1', expectedFingerprint: regenerated.fingerprint, timeoutSeconds: 30 });
  expect(result.target).toBe(target.externalSecret.name);
  expect(Math.floor(Date.parse(result.refreshTime!) / 1000)).toBeGreaterThanOrEqual(requestedAfter);
  expect(result.syncedResourceVersion).toBeDefined();
  expect(result.syncedResourceVersion).not.toBe(syncedBefore);
  expect(fingerprint((await bed.consumerSecret(target))!)).toBe(regenerated.fingerprint);
  const asked = (await readEs(es.namespace, es.name)).metadata?.annotations;
  expect(asked).toMatchObject({ [FORCE_SYNC_REQUEST_ANNOTATION]: 'rotation-1', [FORCE_SYNC_SUPERSEDES_ANNOTATION]: syncedBefore });
  // Same request id again (a retry, a second later): the annotation is not touched, so ESO is not asked again.
  await delay(1_100);
  const again = await run(activities.syncExternalSecret, { ...es, requestId: 'rotation-1', expectedFingerprint: regenerated.fingerprint, timeoutSeconds: 30 });
  expect(again.refreshTime).toBe(result.refreshTime);
  expect((await readEs(es.namespace, es.name)).metadata?.annotations).toEqual(asked);

  const consumer = target.consumers[0]!;
  await run(activities.waitForRollout, { ...consumer, timeoutSeconds: 60 });
  const restart = await run(activities.restartWorkload, { ...consumer, restartedAt: '2026-11-25T20:00:00Z' });
  expect(restart.restarted).toBe(true);
  expect((await run(activities.restartWorkload, { ...consumer, restartedAt: '2026-11-25T20:00:00Z' })).restarted).toBe(false);
  await run(activities.waitForRollout, { ...consumer, timeoutSeconds: 60 });
  const deployment = await cluster.kube.apps.readNamespacedDeployment({ namespace: consumer.namespace, name: consumer.name });
  expect(deployment.status?.observedGeneration).toBe(restart.generation);
  expect(deployment.status?.updatedReplicas).toBe(1);
});

test('preflight refuses an ExternalSecret with refreshInterval 0, whose force-sync the real ESO ignores', async () => {
  const [frozen, control] = [await createTestClient('frozen'), await createTestClient('control')];
  const [frozenTarget, controlTarget] = [await bed.target(frozen, { consumers: 0 }), await bed.target(control, { consumers: 0 })];
  await Promise.all([synced(frozenTarget), synced(controlTarget)]);
  await patchEs(frozenTarget.externalSecret.namespace, frozenTarget.externalSecret.name, { spec: { refreshInterval: '0s' } });

  const refused = await failureType(run(activities.readExternalSecret, esOf(frozenTarget)));
  expect(refused).toMatchObject({ type: FailureType.ExternalSecretIgnoresForceSync, nonRetryable: true });
  expect(refused.message).toContain('refreshInterval is 0');

  // What the refusal spares us: both values change in Infisical and both get a force-sync; ESO syncs the
  // control and leaves the refreshInterval-0 one as it was.
  for (const target of [frozenTarget, controlTarget]) {
    bed.infisical.seed({ ...target.infisical }, `${target.clientId}-changed`);
    await patchEs(target.externalSecret.namespace, target.externalSecret.name, { metadata: { annotations: { [FORCE_SYNC_ANNOTATION]: String(Date.now()) } } });
  }
  await eventually(async () => (await bed.consumerSecret(controlTarget)) === `${control.clientId}-changed`, 'the control ExternalSecret to sync');
  await delay(2_000);
  expect(await bed.consumerSecret(frozenTarget)).toBe(frozen.secret);
});

test('preflight refuses a store ESO reports not Ready, though the ExternalSecret still says Ready', async () => {
  const identity = bed.infisical.addIdentity();
  const store = await bed.addStore(identity);
  const client = await createTestClient('store');
  const target = await bed.target(client, { consumers: 0, store });
  await synced(target);
  // The machine identity loses its login; ESO notices at its next store check (here: the store was touched).
  bed.infisical.revokeLogin(identity);
  await cluster.kube.custom.patchClusterCustomObject(
    { group: ESO_GROUP, version: ESO_VERSION, plural: 'clustersecretstores', name: store, body: { metadata: { annotations: { touched: '1' } } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  const refused = await eventually(async () => {
    const outcome = await failureType(run(activities.readExternalSecret, esOf(target))).catch(() => undefined);
    return outcome?.type === FailureType.SecretStoreNotReady && outcome;
  }, 'ESO to mark the store not Ready');
  expect(refused.nonRetryable).toBe(true);
  // ESO's own words: the condition, and the provider's error from its event.
  expect(refused.message).toContain(`ClusterSecretStore ${store} is not Ready: Ready=False InvalidProviderConfig`);
  expect(refused.message).toContain('failed to authenticate via universal auth');
  const es = await readEs(target.externalSecret.namespace, target.externalSecret.name);
  expect(es.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
});

test('preflight refuses a target Secret that another ExternalSecret owns', async () => {
  const [owner, intruder] = [await createTestClient('owner'), await createTestClient('intruder')];
  const ownerTarget = await bed.target(owner, { consumers: 0 });
  await synced(ownerTarget);
  const intruderTarget = await bed.target(intruder, { consumers: 0 });
  await patchEs(intruderTarget.externalSecret.namespace, intruderTarget.externalSecret.name, { spec: { target: { name: ownerTarget.externalSecret.name } } });

  const refused = await failureType(run(activities.readExternalSecret, esOf(intruderTarget)));
  expect(refused).toMatchObject({ type: FailureType.TargetSecretNotOwned, nonRetryable: true });
  expect(refused.message).toContain(`controlled by ExternalSecret ${ownerTarget.externalSecret.name}`);
  // ESO itself refuses to write it (and keeps the owner's value).
  const refusedByEso = await eventually(async () => {
    const current = await readEs(intruderTarget.externalSecret.namespace, intruderTarget.externalSecret.name);
    return current.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'False');
  }, 'ESO to refuse the second writer');
  expect(refusedByEso.reason).toBe('SecretSyncedError');
  expect(await bed.consumerSecret(ownerTarget)).toBe(owner.secret);
});

test('a store failure during the sync fails with ESO’s own message; the next request syncs once the store works again', async () => {
  const client = await createTestClient('eso-fail');
  const target = await bed.target(client, { consumers: 0 });
  await synced(target);
  const regenerated = await run(activities.regenerateAndStoreSecret, {
    clientId: client.clientId,
    secret: target.infisical,
    baseline: fingerprint(client.secret),
  });
  const input = { ...esOf(target), expectedFingerprint: regenerated.fingerprint, timeoutSeconds: 30 };
  bed.infisical.revokeLogin(bed.esoIdentity);
  try {
    const failed = await failureType(run(activities.syncExternalSecret, { ...input, requestId: 'attempt-0' }));
    expect(failed).toMatchObject({ type: FailureType.ExternalSecretSyncFailed, nonRetryable: true });
    expect(failed.message).toContain('Ready=False SecretSyncedError: could not get secret data from provider');
    expect(failed.message).toContain('failed to authenticate via universal auth');
    expect(await bed.consumerSecret(target)).toBe(client.secret);
  } finally {
    bed.infisical.restoreLogin(bed.esoIdentity);
  }
  await run(activities.syncExternalSecret, { ...input, requestId: 'attempt-1' });
  expect(fingerprint((await bed.consumerSecret(target))!)).toBe(regenerated.fingerprint);
});
