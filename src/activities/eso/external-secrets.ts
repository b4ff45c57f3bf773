import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { CoreV1Event, V1OwnerReference, V1Secret } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type { InfisicalSecretRef } from '../../schemas/rotate-oidc-secrets.js';
import type { KubeClients } from '../kube/clients.js';
import { isApiStatus } from '../kube/clients.js';
import { fingerprint } from '../fingerprint.js';
import { watchUntil } from '../kube/watch.js';
import { parseGoDuration } from '../../domain/go-duration.js';
import { FailureType } from '../../failures.js';

export const ESO_GROUP = 'external-secrets.io';
export const ESO_VERSION = 'v1';
export const EXTERNAL_SECRETS = 'externalsecrets';
/**
 * ESO (v0.20.4) resyncs an ExternalSecret whenever its labels or annotations change: it compares
 * `status.syncedResourceVersion` with the generation plus a hash of both. `force-sync=<unix time>` is the
 * annotation its documentation uses for that; any change of it forces a sync, unless refreshInterval is 0.
 */
export const FORCE_SYNC_ANNOTATION = 'force-sync';
/** Our own record of which rotation step asked for the sync, so a retried activity does not ask again. */
export const FORCE_SYNC_REQUEST_ANNOTATION = 'cluster-ops.wcloud.sh/force-sync-request';
/**
 * The `status.syncedResourceVersion` ESO had reported before our request. refreshTime has whole-second
 * precision, so a sync finished in the request's own second but before it (an earlier request, a periodic
 * refresh) looks as fresh as the one we asked for; only a sync of the annotated object records another version.
 */
export const FORCE_SYNC_SUPERSEDES_ANNOTATION = 'cluster-ops.wcloud.sh/force-sync-supersedes';

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface ExternalSecret {
  metadata?: { name?: string; namespace?: string; uid?: string; annotations?: Record<string, string>; generation?: number };
  spec?: {
    refreshInterval?: string;
    refreshPolicy?: 'CreatedOnce' | 'Periodic' | 'OnChange';
    secretStoreRef?: { kind?: string; name: string };
    target?: { name?: string; creationPolicy?: 'Owner' | 'Orphan' | 'Merge' | 'None' };
    data?: { secretKey: string; remoteRef: { key: string; property?: string } }[];
  };
  status?: {
    refreshTime?: string;
    syncedResourceVersion?: string;
    conditions?: Condition[];
  };
}

interface SecretStore {
  status?: { conditions?: Condition[] };
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

const readyCondition = (object: { status?: { conditions?: Condition[] } }) => object.status?.conditions?.find((c) => c.type === 'Ready');
const describe = (condition: Condition | undefined) =>
  condition ? `Ready=${condition.status} ${condition.reason ?? ''}: ${condition.message ?? ''}` : 'no Ready condition yet';
/** Kubernetes timestamps carry whole seconds; ESO's refreshTime is the second its sync started. */
const wholeSeconds = (time: string | Date) => Math.floor(new Date(time).getTime() / 1000);

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

/** Why ESO would not act on a force-sync of this ExternalSecret, if it would not. */
function ignoresForceSync(es: ExternalSecret): string | undefined {
  if (es.spec?.refreshPolicy === 'CreatedOnce') return 'its refreshPolicy is CreatedOnce: ESO never syncs it again';
  if (es.spec?.refreshPolicy !== 'OnChange' && parseGoDuration(es.spec?.refreshInterval ?? '1h') === 0) {
    return 'its refreshInterval is 0: ESO ignores force-sync once it has synced (external-secrets #4447, #4567)';
  }
  return undefined;
}

/** Why the target Secret is not the ExternalSecret's own to write, if it is not. */
function ownedElsewhere(es: ExternalSecret, secret: V1Secret | undefined): string | undefined {
  const policy = es.spec?.target?.creationPolicy ?? 'Owner';
  if (policy === 'None' || policy === 'Merge')
    return `creationPolicy is ${policy}: the Secret belongs to someone else and ESO only ${policy === 'None' ? 'reads it' : 'merges keys into it'}`;
  const controller = secret?.metadata?.ownerReferences?.find((owner: V1OwnerReference) => owner.controller);
  if (controller && controller.uid !== es.metadata?.uid) return `it is controlled by ${controller.kind} ${controller.name}`;
  return undefined;
}

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
  /**
   * ESO's conditions say only "could not get secret data from provider" or "unable to validate store"; the
   * cause (the provider's error) is in the Warning event it records on the object. Events of cluster-scoped
   * objects are kept in the default namespace.
   */
  const latestWarning = async (kind: string, name: string, namespace = 'default') => {
    const events = await core.listNamespacedEvent({
      namespace,
      fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${name},type=Warning`,
    });
    const when = (event: CoreV1Event) => new Date(event.lastTimestamp ?? event.eventTime ?? event.metadata.creationTimestamp ?? 0).getTime();
    return events.items.sort((a, b) => when(b) - when(a))[0]?.message;
  };
  const withCause = (text: string, cause: string | undefined) => (cause ? `${text} (${cause})` : text);

  const refuse = (input: ExternalSecretInput, why: string, type: FailureType) =>
    ApplicationFailure.nonRetryable(`ExternalSecret ${input.namespace}/${input.name} cannot take a rotation: ${why}`, type);

  return {
    /**
     * Whether the ExternalSecret is Ready, which Secret key it fills, and that value's fingerprint. Refuses
     * (non-retryable) what a force-sync could not serve: an ExternalSecret ESO would not resync on request,
     * a store ESO reports not Ready, a target Secret that is not the ExternalSecret's own.
     */
    async readExternalSecret(input: ExternalSecretInput): Promise<ExternalSecretState> {
      const es = await read(input);
      const target = targetOf(es, input);
      const ignored = ignoresForceSync(es);
      if (ignored) throw refuse(input, ignored, FailureType.ExternalSecretIgnoresForceSync);
      const secret = await readSecret(input.namespace, target.name);
      const notOwned = ownedElsewhere(es, secret);
      if (notOwned) throw refuse(input, `target Secret ${target.name}: ${notOwned}`, FailureType.TargetSecretNotOwned);
      const storeRef = es.spec?.secretStoreRef;
      const storeKind = storeRef?.kind ?? 'SecretStore';
      const store = await (
        storeKind === 'ClusterSecretStore'
          ? custom.getClusterCustomObject({ group: ESO_GROUP, version: ESO_VERSION, plural: 'clustersecretstores', name: storeRef!.name })
          : custom.getNamespacedCustomObject({
              group: ESO_GROUP,
              version: ESO_VERSION,
              namespace: input.namespace,
              plural: 'secretstores',
              name: storeRef!.name,
            })
      ).catch((error: unknown) => {
        if (isApiStatus(error, 404)) throw refuse(input, `its ${storeKind} ${storeRef!.name} does not exist`, FailureType.SecretStoreNotReady);
        throw error;
      });
      const storeReady = readyCondition(store as SecretStore);
      if (storeReady?.status !== 'True') {
        const cause = await latestWarning(storeKind, storeRef!.name, storeKind === 'ClusterSecretStore' ? undefined : input.namespace);
        throw refuse(input, withCause(`its ${storeKind} ${storeRef!.name} is not Ready: ${describe(storeReady)}`, cause), FailureType.SecretStoreNotReady);
      }
      const ready = readyCondition(es);
      const value = valueOf(secret, target.key);
      return {
        ready: ready?.status === 'True',
        message: ready?.status === 'True' ? describe(ready) : withCause(describe(ready), await latestWarning('ExternalSecret', input.name, input.namespace)),
        target,
        fingerprint: value === undefined ? undefined : fingerprint(value),
      };
    },

    /**
     * Forces ESO to resync now: `force-sync` set to the request's time, recorded with `requestId` (a retry
     * with the same id asks no second time and waits for the same request). Waits, by watch, until ESO reports
     * Ready/SecretSynced for the annotated object (a syncedResourceVersion other than the one it superseded)
     * with a refreshTime no earlier than the request, then checks that the target Secret
     * holds `expectedFingerprint`. A sync ESO fails after the request fails the step with ESO's own message.
     */
    async syncExternalSecret(
      input: ExternalSecretInput & { requestId: string; expectedFingerprint: string; timeoutSeconds: number },
    ): Promise<{ target: string; refreshTime?: string; syncedResourceVersion?: string; waitedMs: number }> {
      const { namespace, name } = input;
      const es = await read(input);
      const target = targetOf(es, input);
      const readyBefore = readyCondition(es)?.status;
      const annotations = es.metadata?.annotations ?? {};
      let requestedAt = Number(annotations[FORCE_SYNC_ANNOTATION]);
      let supersedes = annotations[FORCE_SYNC_SUPERSEDES_ANNOTATION] ?? '';
      if (annotations[FORCE_SYNC_REQUEST_ANNOTATION] !== input.requestId || !Number.isInteger(requestedAt)) {
        requestedAt = wholeSeconds(new Date());
        supersedes = es.status?.syncedResourceVersion ?? '';
        await custom.patchNamespacedCustomObject(
          {
            group: ESO_GROUP,
            version: ESO_VERSION,
            namespace,
            plural: EXTERNAL_SECRETS,
            name,
            body: {
              metadata: {
                annotations: {
                  [FORCE_SYNC_ANNOTATION]: String(requestedAt),
                  [FORCE_SYNC_REQUEST_ANNOTATION]: input.requestId,
                  [FORCE_SYNC_SUPERSEDES_ANNOTATION]: supersedes,
                },
              },
            },
          },
          mergePatch,
        );
      }
      const fieldSelector = `metadata.name=${name}`;
      let synced: ExternalSecret | undefined;
      const { waitedMs } = await watchUntil<ExternalSecret>({
        watch,
        path: `/apis/${ESO_GROUP}/${ESO_VERSION}/namespaces/${namespace}/${EXTERNAL_SECRETS}`,
        query: { fieldSelector },
        list: async () =>
          (await custom.listNamespacedCustomObject({ group: ESO_GROUP, version: ESO_VERSION, namespace, plural: EXTERNAL_SECRETS, fieldSelector })) as {
            items: ExternalSecret[];
          },
        unmet: ([current]) => {
          const ready = readyCondition(current ?? {});
          const refreshed = current?.status?.refreshTime;
          const ofRequest = current?.status?.syncedResourceVersion !== supersedes;
          if (ready?.status === 'True' && ready.reason === 'SecretSynced' && ofRequest && refreshed && wholeSeconds(refreshed) >= requestedAt) {
            synced = current;
            return [];
          }
          return [
            `ExternalSecret ${namespace}/${name}: ${describe(ready)}, last synced ${refreshed ?? 'never'}, sync requested at ${new Date(requestedAt * 1000).toISOString()}`,
          ];
        },
        // ESO records a failed sync on the Ready condition only (no refreshTime), and moves its
        // lastTransitionTime only when the status flips: a condition that turned False since we read it, or
        // whose flip is stamped after the request's second, is ESO's answer. One that was False before and
        // fails again shows no change: the wait then ends at its timeout, with ESO's condition and event.
        failed: ([current]) => {
          const ready = readyCondition(current ?? {});
          if (ready?.status !== 'False') return undefined;
          const flippedSince = readyBefore !== 'False' || (ready.lastTransitionTime !== undefined && wholeSeconds(ready.lastTransitionTime) > requestedAt);
          return flippedSince ? describe(ready) : undefined;
        },
        timeoutSeconds: input.timeoutSeconds,
        what: `ExternalSecret ${namespace}/${name} sync`,
      }).catch(async (error: unknown) => {
        const type = (error as ApplicationFailure).type;
        if (type !== FailureType.WatchedObjectFailed && type !== FailureType.WaitTimedOut) throw error;
        const cause = await latestWarning('ExternalSecret', name, namespace);
        if (type === FailureType.WaitTimedOut) {
          // Not necessarily about this request: said as ESO's latest word, for whoever looks into the timeout.
          throw ApplicationFailure.nonRetryable(cause ? `${(error as Error).message}; ESO's latest warning on it: ${cause}` : (error as Error).message, type);
        }
        throw ApplicationFailure.nonRetryable(
          withCause(`ESO failed to sync ExternalSecret ${namespace}/${name}: ${(error as Error).message}`, cause),
          FailureType.ExternalSecretSyncFailed,
        );
      });
      const actual = valueOf(await readSecret(namespace, target.name), target.key);
      const actualFingerprint = actual === undefined ? 'nothing' : fingerprint(actual);
      if (actualFingerprint !== input.expectedFingerprint) {
        throw ApplicationFailure.nonRetryable(
          `ESO synced ExternalSecret ${namespace}/${name} but Secret ${target.name} key ${target.key} holds ${actualFingerprint}, want ${input.expectedFingerprint}`,
          FailureType.ExternalSecretSyncFailed,
        );
      }
      return { target: target.name, refreshTime: synced?.status?.refreshTime, syncedResourceVersion: synced?.status?.syncedResourceVersion, waitedMs };
    },
  };
}
