import type KcAdminClient from '@keycloak/keycloak-admin-client';
import { ApplicationFailure } from '@temporalio/common';
import { decideRegeneration, preflightConsistency } from '../../domain/secret-rotation.js';
import type { TokenVerdict } from '../../domain/secret-rotation.js';
import type { InfisicalSecretRef } from '../../schemas/rotate-oidc-secrets.js';
import { FailureType } from '../../failures.js';
import { fingerprint } from '../fingerprint.js';
import { describeRef, infisicalOn } from '../infisical/secrets.js';
import type { InfisicalDeps } from '../infisical/secrets.js';
import { adminClient, configuredKeycloak, findClient, readSecrets, tryClientSecret } from './admin.js';
import type { KeycloakDeps } from './admin.js';

const FEATURE = 'CLIENT_SECRET_ROTATION';
const EXECUTOR = 'secret-rotation';

export interface ClientPolicySettings {
  name: string;
  graceSeconds: number;
  expirationSeconds: number;
}

export interface PreflightOidcInput {
  clientId: string;
  secret: InfisicalSecretRef;
  ensureClientPolicy: boolean;
  clientPolicy: ClientPolicySettings;
}

export interface PreflightOidcResult {
  clientPolicy: { name: string; created: boolean; graceSeconds: number };
  keycloak: { current: string; rotated?: string };
  stored: { fingerprint: string; version: number };
  /** A previous run regenerated and died before storing: this run only stores. */
  resuming: boolean;
}

export interface RegenerateInput {
  clientId: string;
  secret: InfisicalSecretRef;
  /** Infisical's fingerprint at preflight: the secret consumers use now. */
  baseline: string;
}

export interface RegenerateResult {
  action: 'regenerated' | 'stored-existing' | 'already-done';
  fingerprint: string;
  /** Infisical's version holding the new secret; the one before holds the old. */
  version: number;
}

export interface VerifySecretInput {
  clientId: string;
  secret: InfisicalSecretRef;
  /** The Infisical version to test (the new one, or the one before it after the revoke). */
  version: number;
  expectedFingerprint: string;
  expect: 'accepted' | 'refused';
}

export interface RevokeInput {
  clientId: string;
  secret: InfisicalSecretRef;
  /** Fingerprint of the old secret: only that one is revoked. */
  previousFingerprint: string;
}

type RealmProfiles = Awaited<ReturnType<KcAdminClient['clientPolicies']['listProfiles']>>;
type RealmPolicies = Awaited<ReturnType<KcAdminClient['clientPolicies']['listPolicies']>>;

/** The first enabled policy that applies a profile with the secret-rotation executor, and its grace period. */
function findRotationPolicy(profiles: RealmProfiles, policies: RealmPolicies) {
  const allProfiles = [...(profiles.profiles ?? []), ...(profiles.globalProfiles ?? [])];
  for (const policy of [...(policies.policies ?? []), ...(policies.globalPolicies ?? [])]) {
    if (policy.enabled === false) continue;
    for (const profileName of policy.profiles ?? []) {
      const executor = allProfiles.find((p) => p.name === profileName)?.executors?.find((e) => e.executor === EXECUTOR);
      if (executor) {
        const config = (executor.configuration ?? {}) as Record<string, unknown>;
        return { name: policy.name ?? profileName, graceSeconds: Number(config['rotated-expiration-period'] ?? 0) };
      }
    }
  }
  return undefined;
}

/**
 * Client policies and profiles are replaced whole on PUT: read them, add ours, write them back, so an
 * admin's own policies survive.
 */
async function createRotationPolicy(kc: KcAdminClient, settings: ClientPolicySettings, profiles: RealmProfiles, policies: RealmPolicies) {
  const profile = {
    name: settings.name,
    description: 'cluster-ops: keep the previous client secret valid for a grace period after a rotation',
    executors: [
      {
        executor: EXECUTOR,
        configuration: {
          'expiration-period': String(settings.expirationSeconds),
          'rotated-expiration-period': String(settings.graceSeconds),
          // Keycloak also rotates on a client update when less than this is left; keep it below the
          // expiration so only our runs rotate.
          'remaining-rotation-period': String(Math.min(settings.graceSeconds, Math.floor(settings.expirationSeconds / 2))),
        },
      },
    ],
  };
  const realmProfiles = (profiles.profiles ?? []).filter((p) => p.name !== settings.name);
  await kc.clientPolicies.createProfiles({ profiles: [...realmProfiles, profile] });
  const policy = {
    name: settings.name,
    description: 'cluster-ops: secret rotation with a grace period for confidential clients',
    enabled: true,
    conditions: [{ condition: 'client-access-type', configuration: { type: ['confidential'] } }],
    profiles: [settings.name],
  };
  const realmPolicies = (policies.policies ?? []).filter((p) => p.name !== settings.name);
  await kc.clientPolicies.updatePolicy({ policies: [...realmPolicies, policy] });
}

export function createOidcRotationActivities(keycloak: KeycloakDeps | undefined, infisicalDeps: InfisicalDeps | undefined) {
  const infisical = infisicalOn(infisicalDeps);
  const need = () => configuredKeycloak(keycloak);

  /** Reads both sides without changing anything. */
  async function readState(kc: KcAdminClient, deps: KeycloakDeps, clientId: string, ref: InfisicalSecretRef) {
    const client = await findClient(kc, deps, clientId);
    const [secrets, stored] = await Promise.all([readSecrets(kc, deps, client.id), infisical().readExisting(ref)]);
    return { client, secrets, stored };
  }

  return {
    /**
     * Checks that a rotation can keep the old secret alive: the client exists and is confidential, the
     * rotation feature is on, a client policy with the secret-rotation executor applies (created when
     * asked), Infisical holds the secret and agrees with Keycloak. Changes nothing else.
     */
    async preflightOidcRotation(input: PreflightOidcInput): Promise<PreflightOidcResult> {
      const deps = need();
      const kc = await adminClient(deps);
      const { client, secrets, stored } = await readState(kc, deps, input.clientId, input.secret);
      if (client.publicClient || client.bearerOnly || (client.clientAuthenticatorType ?? 'client-secret') !== 'client-secret') {
        throw ApplicationFailure.nonRetryable(
          `client ${input.clientId} is not a confidential client with a client secret`,
          FailureType.SecretRotationNotPossible,
        );
      }
      const info = await kc.serverInfo.find();
      const feature = (info as { features?: { name: string; enabled: boolean }[] }).features?.find((f) => f.name === FEATURE);
      if (feature && !feature.enabled) {
        throw ApplicationFailure.nonRetryable(
          'Keycloak runs without the client-secret-rotation feature (--features=client-secret-rotation): regenerating would kill the old secret at once',
          FailureType.SecretRotationNotPossible,
        );
      }
      const listPolicies = async () => {
        const [profiles, policies] = await Promise.all([
          kc.clientPolicies.listProfiles({ includeGlobalProfiles: true }),
          kc.clientPolicies.listPolicies({ includeGlobalPolicies: true }),
        ]);
        return { profiles, policies, found: findRotationPolicy(profiles, policies) };
      };
      const listed = await listPolicies();
      let found = listed.found;
      let created = false;
      if (!found) {
        if (!input.ensureClientPolicy) {
          throw ApplicationFailure.nonRetryable(
            `realm ${deps.realm} has no client policy with the ${EXECUTOR} executor: regenerating would kill the old secret at once (run with policy.ensureClientPolicy to create ${input.clientPolicy.name})`,
            FailureType.SecretRotationNotPossible,
          );
        }
        await createRotationPolicy(kc, input.clientPolicy, listed.profiles, listed.policies);
        ({ found } = await listPolicies());
        if (!found) throw new Error(`created client policy ${input.clientPolicy.name}, but Keycloak does not report it`);
        created = true;
      }
      const state = {
        keycloakCurrent: fingerprint(secrets.current),
        keycloakRotated: secrets.rotated && fingerprint(secrets.rotated),
        stored: fingerprint(stored.value),
      };
      const consistency = preflightConsistency(state);
      if (!consistency.ok) throw ApplicationFailure.nonRetryable(`${input.clientId}: ${consistency.reason}`, FailureType.SecretDrift);
      return {
        clientPolicy: { name: found.name, created, graceSeconds: found.graceSeconds },
        keycloak: { current: state.keycloakCurrent, rotated: state.keycloakRotated },
        stored: { fingerprint: state.stored, version: stored.version },
        resuming: consistency.resuming,
      };
    },

    /**
     * Regenerates the client secret in Keycloak and stores it in Infisical, as one step that is safe to
     * retry: it first compares both sides with the baseline and never regenerates twice (Keycloak keeps
     * one rotated secret; a second regeneration would push out the one consumers still use).
     */
    async regenerateAndStoreSecret(input: RegenerateInput): Promise<RegenerateResult> {
      const deps = need();
      const kc = await adminClient(deps);
      const { client, secrets, stored } = await readState(kc, deps, input.clientId, input.secret);
      const state = {
        keycloakCurrent: fingerprint(secrets.current),
        keycloakRotated: secrets.rotated && fingerprint(secrets.rotated),
        stored: fingerprint(stored.value),
      };
      const decision = decideRegeneration(state, input.baseline);
      const comment = `rotated by cluster-ops (Keycloak client ${input.clientId})`;
      switch (decision.action) {
        case 'done':
          return { action: 'already-done', fingerprint: state.stored, version: stored.version };
        case 'store-current': {
          const { version } = await infisical().update(input.secret, secrets.current, comment);
          return { action: 'stored-existing', fingerprint: state.keycloakCurrent, version };
        }
        case 'regenerate': {
          const generated = await kc.clients.generateNewClientSecret({ id: client.id });
          if (!generated.value) throw new Error('Keycloak returned no new secret');
          const { version } = await infisical().update(input.secret, generated.value, comment);
          return { action: 'regenerated', fingerprint: fingerprint(generated.value), version };
        }
        case 'drift':
          throw ApplicationFailure.nonRetryable(`${input.clientId}: ${decision.reason}`, FailureType.SecretDrift);
      }
    },

    /**
     * Tries a stored secret version at Keycloak's token endpoint. The value is read here, from Infisical,
     * so it never passes through the workflow.
     */
    async verifyClientSecret(input: VerifySecretInput): Promise<{ verdict: TokenVerdict; fingerprint: string }> {
      const deps = need();
      const secret = await infisical().readExisting(input.secret, input.version);
      const actual = fingerprint(secret.value);
      if (actual !== input.expectedFingerprint) {
        throw ApplicationFailure.nonRetryable(
          `${describeRef(input.secret)} version ${input.version} is ${actual}, expected ${input.expectedFingerprint}`,
          FailureType.SecretDrift,
        );
      }
      const verdict = await tryClientSecret(deps, input.clientId, secret.value);
      if (verdict === 'unknown') throw new Error(`Keycloak's token endpoint gave no clear answer for ${input.clientId}`);
      if (verdict !== input.expect) {
        throw ApplicationFailure.nonRetryable(
          `${input.clientId}: secret ${actual} was ${verdict} at the token endpoint, expected ${input.expect}`,
          FailureType.SecretVerificationFailed,
        );
      }
      return { verdict, fingerprint: actual };
    },

    /** Deletes the rotated (old) secret, if it is the one this run replaced; idempotent. */
    async revokeRotatedSecret(input: RevokeInput): Promise<{ revoked: boolean }> {
      const deps = need();
      const kc = await adminClient(deps);
      const client = await findClient(kc, deps, input.clientId);
      const { rotated } = await readSecrets(kc, deps, client.id);
      if (rotated === undefined) return { revoked: false };
      const rotatedFingerprint = fingerprint(rotated);
      if (rotatedFingerprint !== input.previousFingerprint) {
        throw ApplicationFailure.nonRetryable(
          `${input.clientId}: the rotated slot holds ${rotatedFingerprint}, not the secret this run replaced (${input.previousFingerprint}); left alone`,
          FailureType.SecretDrift,
        );
      }
      await kc.clients.invalidateSecret({ id: client.id });
      return { revoked: true };
    },
  };
}
