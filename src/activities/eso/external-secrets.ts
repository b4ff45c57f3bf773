import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { V1Secret } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type { InfisicalSecretRef } from '../../schemas/rotate-oidc-secrets.js';
import type { KubeClients } from '../kube/clients.js';
import { isApiStatus } from '../kube/clients.js';
import { fingerprint } from '../fingerprint.js';
import { watchUntil } from '../kube/watch.js';
import { FailureType } from '../../failures.js';

export const ESO_GROUP = 'external-secrets.io';
export const ESO_VERSION = 'v1';
export const EXTERNAL_SECRETS = 'externalsecrets';
/** Changing this annotation makes ESO resync an ExternalSecret now (its documented force-sync). */
export const FORCE_SYNC_ANNOTATION = 'force-sync';

export interface ExternalSecret {
  metadata?: { name?: string; namespace?: string; uid?: string; annotations?: Record<string, string>; generation?: number };
  spec?: {
    target?: { name?: string };
    data?: { secretKey: string; remoteRef: { key: string; property?: string } }[];
  };
  status?: {
    refreshTime?: string;
    syncedResourceVersion?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

export interface ExternalSecretInput {
  namespace: string;
  name: string;
  /** The Infisical secret whose value the ExternalSecret copies. */
  secret: InfisicalSecretRef;
}

export interface ExternalSecretState {
  ready: boolean;
  message: string;
  /** The Kubernetes Secret ESO writes and the key in it that carries the client secret. */
  target: { name: string; key: string };
  /** Fingerprint of that key's value now, if the Secret exists. */
  fingerprint?: string;
}

const readyCondition = (es: ExternalSecret) => es.status?.conditions?.find((c) => c.type === 'Ready');

/** The data entry that maps our Infisical key (bare, or with its folder path) into the target Secret. */
function targetOf(es: ExternalSecret, { namespace, name, secret }: ExternalSecretInput) {
  const path = secret.secretPath.replace(/\/$/, '');
  const entry = es.spec?.data?.find((d) => d.remoteRef.key === secret.secretName || d.remoteRef.key === `${path}/${secret.secretName}`);
  if (!entry) {
    throw ApplicationFailure.nonRetryable(
      `ExternalSecret ${namespace}/${name} has no data entry for Infisical key ${secret.secretName}`,
      FailureType.ExternalSecretNotReady,
    );
  }
  return { name: es.spec?.target?.name ?? name, key: entry.secretKey };
}

const valueOf = (secret: V1Secret | undefined, key: string) => {
  const encoded = secret?.data?.[key];
  return encoded === undefined ? undefined : Buffer.from(encoded, 'base64').toString('utf8');
};

export function createExternalSecretActivities({ core, custom, watch }: KubeClients) {
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const read = async ({ namespace, name }: { namespace: string; name: string }) => {
    try {
      return (await custom.getNamespacedCustomObject({ group: ESO_GROUP, version: ESO_VERSION, namespace, plural: EXTERNAL_SECRETS, name })) as ExternalSecret;
    } catch (error) {
      if (isApiStatus(error, 404))
        throw ApplicationFailure.nonRetryable(`ExternalSecret ${namespace}/${name} does not exist`, FailureType.ExternalSecretNotReady);
      throw error;
    }
  };
  const readSecret = async (namespace: string, name: string) => {
    try {
      return await core.readNamespacedSecret({ namespace, name });
    } catch (error) {
      if (isApiStatus(error, 404)) return undefined;
      throw error;
    }
  };

  return {
    /** Whether the ExternalSecret is Ready, which Secret key it fills, and that value's fingerprint. */
    async readExternalSecret(input: ExternalSecretInput): Promise<ExternalSecretState> {
      const es = await read(input);
      const target = targetOf(es, input);
      const ready = readyCondition(es);
      const value = valueOf(await readSecret(input.namespace, target.name), target.key);
      return {
        ready: ready?.status === 'True',
        message: ready ? `${ready.reason ?? ''}: ${ready.message ?? ''}` : 'no Ready condition yet',
        target,
        fingerprint: value === undefined ? undefined : fingerprint(value),
      };
    },

    /**
     * Forces ESO to resync now (sets the force-sync annotation to `requestId`; a retry with the same id
     * does not trigger another sync) and waits, by watch, until the target Secret holds the value with
     * `expectedFingerprint` and the ExternalSecret reports Ready=True.
     */
    async syncExternalSecret(
      input: ExternalSecretInput & { requestId: string; expectedFingerprint: string; timeoutSeconds: number },
    ): Promise<{ target: string; refreshTime?: string; syncedResourceVersion?: string; waitedMs: number }> {
      const { namespace, name } = input;
      const es = await read(input);
      const target = targetOf(es, input);
      if (es.metadata?.annotations?.[FORCE_SYNC_ANNOTATION] !== input.requestId) {
        await custom.patchNamespacedCustomObject(
          {
            group: ESO_GROUP,
            version: ESO_VERSION,
            namespace,
            plural: EXTERNAL_SECRETS,
            name,
            body: { metadata: { annotations: { [FORCE_SYNC_ANNOTATION]: input.requestId } } },
          },
          mergePatch,
        );
      }
      const fieldSelector = `metadata.name=${target.name}`;
      const { waitedMs } = await watchUntil<V1Secret>({
        watch,
        path: `/api/v1/namespaces/${namespace}/secrets`,
        query: { fieldSelector },
        list: () => core.listNamespacedSecret({ namespace, fieldSelector }),
        unmet: ([secret]) => {
          const value = valueOf(secret, target.key);
          if (value === undefined) return [`Secret ${namespace}/${target.name} has no key ${target.key}`];
          const actual = fingerprint(value);
          return actual === input.expectedFingerprint ? [] : [`Secret ${namespace}/${target.name} holds ${actual}, want ${input.expectedFingerprint}`];
        },
        timeoutSeconds: input.timeoutSeconds,
        what: `ExternalSecret ${namespace}/${name} sync`,
      });
      const synced = await read(input);
      const ready = readyCondition(synced);
      if (ready?.status !== 'True') {
        throw new Error(`ExternalSecret ${namespace}/${name} wrote the Secret but is not Ready: ${ready?.reason ?? 'no condition'}`);
      }
      return { target: target.name, refreshTime: synced.status?.refreshTime, syncedResourceVersion: synced.status?.syncedResourceVersion, waitedMs };
    },
  };
}
