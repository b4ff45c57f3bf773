import { InfisicalSDK } from '@infisical/sdk';
import { ApplicationFailure } from '@temporalio/common';
import type { InfisicalSecretRef } from '../../schemas/rotate-oidc-secrets.js';
import { FailureType, notConfigured } from '../../failures.js';
import { fingerprint } from '../fingerprint.js';

/** A machine identity (universal auth) allowed to read and write the OIDC client secrets. */
export interface InfisicalDeps {
  siteUrl: string;
  clientId: string;
  clientSecret: string;
}

export interface StoredSecret {
  value: string;
  version: number;
}

/** Infisical through its official SDK; errors carry URL and status, never a value. */
export class InfisicalSecrets {
  constructor(private readonly deps: InfisicalDeps) {}

  private async sdk(): Promise<InfisicalSDK> {
    const sdk = new InfisicalSDK({ siteUrl: this.deps.siteUrl });
    try {
      return await sdk.auth().universalAuth.login({ clientId: this.deps.clientId, clientSecret: this.deps.clientSecret });
    } catch (error) {
      throw statusOf(error) === 401
        ? ApplicationFailure.nonRetryable(`Infisical refused the machine identity ${this.deps.clientId}`, FailureType.InfisicalUnauthorized)
        : error;
    }
  }

  /** The secret (latest, or one version); undefined when it does not exist. */
  async read(ref: InfisicalSecretRef, version?: number): Promise<StoredSecret | undefined> {
    const sdk = await this.sdk();
    try {
      const secret = await sdk.secrets().getSecret({
        projectId: ref.projectId,
        environment: ref.environment,
        secretPath: ref.secretPath,
        secretName: ref.secretName,
        version,
        expandSecretReferences: false,
      });
      return { value: secret.secretValue, version: secret.version };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  async readExisting(ref: InfisicalSecretRef, version?: number): Promise<StoredSecret> {
    const secret = await this.read(ref, version);
    if (!secret) {
      throw ApplicationFailure.nonRetryable(
        `Infisical has no secret ${describeRef(ref)}${version ? ` at version ${version}` : ''}`,
        FailureType.InfisicalSecretMissing,
      );
    }
    return secret;
  }

  /**
   * Writes a new version. A path under an approval policy answers with an approval request instead of the
   * secret: the value is NOT stored, and no retry changes that.
   */
  async update(ref: InfisicalSecretRef, value: string, comment: string): Promise<{ version: number }> {
    const sdk = await this.sdk();
    const reply = (await sdk.secrets().updateSecret(ref.secretName, {
      projectId: ref.projectId,
      environment: ref.environment,
      secretPath: ref.secretPath,
      secretValue: value,
      secretComment: comment,
    })) as { secret?: { version: number }; approval?: unknown };
    if (!reply.secret) {
      throw ApplicationFailure.nonRetryable(
        `Infisical did not store ${describeRef(ref)}: the path is under an approval policy (a change request was opened instead)`,
        FailureType.InfisicalApprovalRequired,
      );
    }
    return { version: reply.secret.version };
  }
}

export const describeRef = (ref: InfisicalSecretRef) => `${ref.environment}:${ref.secretPath.replace(/\/$/, '')}/${ref.secretName}`;

/** The SDK puts the HTTP status into its error message only. */
function statusOf(error: unknown): number | undefined {
  const match = /\[StatusCode=(\d+)\]/.exec(error instanceof Error ? error.message : '');
  return match ? Number(match[1]) : undefined;
}

/** The Infisical client when the worker has one configured; a non-retryable failure otherwise. */
export function infisicalOn(deps: InfisicalDeps | undefined): () => InfisicalSecrets {
  const secrets = deps && new InfisicalSecrets(deps);
  return () => {
    if (!secrets) throw notConfigured('Infisical (INFISICAL_URL, INFISICAL_CLIENT_ID, INFISICAL_CLIENT_SECRET)');
    return secrets;
  };
}

export function createInfisicalActivities(deps: InfisicalDeps | undefined) {
  const need = infisicalOn(deps);
  return {
    /** The stored secret's fingerprint and version (preflight, reports). */
    async readInfisicalSecret(ref: InfisicalSecretRef): Promise<{ fingerprint: string; version: number }> {
      const secret = await need().readExisting(ref);
      return { fingerprint: fingerprint(secret.value), version: secret.version };
    },
  };
}
