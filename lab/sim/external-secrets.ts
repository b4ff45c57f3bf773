import { createHash } from 'node:crypto';
import { InfisicalSDK } from '@infisical/sdk';
import { CoreV1Api, CustomObjectsApi, makeInformer, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { ESO_GROUP, ESO_VERSION, EXTERNAL_SECRETS } from '../../src/activities/eso/external-secrets.js';
import type { ExternalSecret } from '../../src/activities/eso/external-secrets.js';
import { isApiStatus } from '../../src/activities/kube/clients.js';

/**
 * SIMULATED External Secrets Operator, for ExternalSecrets (external-secrets.io/v1) whose store is a
 * ClusterSecretStore with the Infisical provider (universal auth). Like ESO, it syncs when an
 * ExternalSecret is new or its generation, labels or annotations changed (so the `force-sync` annotation
 * triggers a resync): it logs in to the store's `hostAPI` with the machine identity from the store's
 * credential Secrets through the real Infisical SDK, reads each `data[].remoteRef.key` (a bare key in the
 * store's `secretsScope.secretsPath`, or `/folder/KEY`), writes the target Secret (owned by the
 * ExternalSecret) and sets status refreshTime, syncedResourceVersion and Ready=True/SecretSynced (or
 * Ready=False/SecretSyncedError with the error).
 *
 * Limits: no periodic refreshInterval resync, no namespaced SecretStores or other providers, no
 * dataFrom/templates/properties/decoding strategies, no creationPolicy other than Owner, no deletion
 * policy, no metrics; projectSlug is passed to Infisical as the project id (the fake's ids are slugs).
 */
export interface SimulatedExternalSecrets {
  ready: Promise<void>;
  /** How many times each ExternalSecret (namespace/name) was synced: a test's way to count resyncs. */
  syncs: Map<string, number>;
  stop(): Promise<void>;
}

interface InfisicalStore {
  spec?: {
    provider?: {
      infisical?: {
        hostAPI?: string;
        auth?: { universalAuthCredentials?: { clientId: SecretKeyRef; clientSecret: SecretKeyRef } };
        secretsScope?: { projectSlug: string; environmentSlug: string; secretsPath?: string };
      };
    };
  };
}
interface SecretKeyRef {
  name: string;
  key: string;
  namespace?: string;
}
type Watched = ExternalSecret & KubernetesObject & { spec?: { secretStoreRef?: { kind?: string; name: string } } };

/** ESO's own version stamp: the generation plus a hash of labels and annotations. */
export function esoResourceVersion(es: Watched): string {
  const meta = JSON.stringify({ labels: es.metadata?.labels ?? {}, annotations: es.metadata?.annotations ?? {} });
  return `${es.metadata?.generation ?? 0}-${createHash('sha256').update(meta).digest('hex').slice(0, 16)}`;
}

export function startSimulatedExternalSecrets(config: KubeConfig): SimulatedExternalSecrets {
  const core = config.makeApiClient(CoreV1Api);
  const custom = config.makeApiClient(CustomObjectsApi);
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const syncs = new Map<string, number>();
  const queues = new Map<string, Promise<void>>();

  const secretValue = async (ref: SecretKeyRef, namespace: string) => {
    const secret = await core.readNamespacedSecret({ name: ref.name, namespace: ref.namespace ?? namespace });
    const encoded = secret.data?.[ref.key];
    if (encoded === undefined) throw new Error(`Secret ${ref.namespace ?? namespace}/${ref.name} has no key ${ref.key}`);
    return Buffer.from(encoded, 'base64').toString('utf8');
  };

  const fetchData = async (es: Watched) => {
    const ref = es.spec?.secretStoreRef;
    if (ref?.kind !== 'ClusterSecretStore') throw new Error('the simulator serves ClusterSecretStores only');
    const store = (await custom.getClusterCustomObject({
      group: ESO_GROUP,
      version: ESO_VERSION,
      plural: 'clustersecretstores',
      name: ref.name,
    })) as InfisicalStore;
    const provider = store.spec?.provider?.infisical;
    const credentials = provider?.auth?.universalAuthCredentials;
    if (!provider?.hostAPI || !credentials || !provider.secretsScope)
      throw new Error(`ClusterSecretStore ${ref.name} is not an Infisical universal-auth store`);
    const sdk = await new InfisicalSDK({ siteUrl: provider.hostAPI }).auth().universalAuth.login({
      clientId: await secretValue(credentials.clientId, 'external-secrets'),
      clientSecret: await secretValue(credentials.clientSecret, 'external-secrets'),
    });
    const scope = provider.secretsScope;
    const data: Record<string, string> = {};
    for (const entry of es.spec?.data ?? []) {
      const key = entry.remoteRef.key;
      const slash = key.lastIndexOf('/');
      const secret = await sdk.secrets().getSecret({
        projectId: scope.projectSlug,
        environment: scope.environmentSlug,
        secretPath: slash > 0 ? key.slice(0, slash) : (scope.secretsPath ?? '/'),
        secretName: slash >= 0 ? key.slice(slash + 1) : key,
        expandSecretReferences: false,
      });
      data[entry.secretKey] = Buffer.from(secret.secretValue, 'utf8').toString('base64');
    }
    return data;
  };

  const writeTarget = async (es: Watched, data: Record<string, string>) => {
    const namespace = es.metadata!.namespace!;
    const name = es.spec?.target?.name ?? es.metadata!.name!;
    const ownerReferences = [
      { apiVersion: `${ESO_GROUP}/${ESO_VERSION}`, kind: 'ExternalSecret', name: es.metadata!.name!, uid: es.metadata!.uid!, controller: true },
    ];
    try {
      await core.createNamespacedSecret({ namespace, body: { metadata: { name, namespace, ownerReferences }, type: 'Opaque', data } });
    } catch (error) {
      if (!isApiStatus(error, 409)) throw error;
      await core.replaceNamespacedSecret({ namespace, name, body: { metadata: { name, namespace, ownerReferences }, type: 'Opaque', data } });
    }
  };

  const setStatus = async (es: Watched, ready: boolean, message: string) => {
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const status = {
      refreshTime: now,
      syncedResourceVersion: esoResourceVersion(es),
      binding: { name: es.spec?.target?.name ?? es.metadata!.name! },
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', reason: ready ? 'SecretSynced' : 'SecretSyncedError', message, lastTransitionTime: now }],
    };
    await custom.patchNamespacedCustomObjectStatus(
      { group: ESO_GROUP, version: ESO_VERSION, namespace: es.metadata!.namespace!, plural: EXTERNAL_SECRETS, name: es.metadata!.name!, body: { status } },
      mergePatch,
    );
  };

  const sync = async (es: Watched) => {
    const id = `${es.metadata!.namespace}/${es.metadata!.name}`;
    try {
      await writeTarget(es, await fetchData(es));
      syncs.set(id, (syncs.get(id) ?? 0) + 1);
      await setStatus(es, true, 'secret synced');
    } catch (error) {
      await setStatus(es, false, `could not get secret data from provider: ${(error as Error).message}`).catch(() => undefined);
    }
  };

  const onChange = (es: Watched) => {
    if (es.metadata?.deletionTimestamp) return;
    if (es.status?.syncedResourceVersion === esoResourceVersion(es)) return;
    const id = `${es.metadata!.namespace}/${es.metadata!.name}`;
    // One sync at a time per ExternalSecret, in event order, as ESO's work queue does.
    const next = (queues.get(id) ?? Promise.resolve()).then(() => sync(es));
    queues.set(id, next);
  };

  const informer = makeInformer<Watched>(
    config,
    `/apis/${ESO_GROUP}/${ESO_VERSION}/${EXTERNAL_SECRETS}`,
    async () => (await custom.listClusterCustomObject({ group: ESO_GROUP, version: ESO_VERSION, plural: EXTERNAL_SECRETS })) as { items: Watched[] },
  );
  informer.on('add', onChange);
  informer.on('update', onChange);
  let stopped = false;
  // The watch broke (API server restart, expired resourceVersion): list and watch again, as ESO does.
  informer.on('error', () => {
    if (!stopped) setTimeout(() => void (stopped || informer.start().catch(() => undefined)), 1_000).unref();
  });
  return {
    ready: informer.start(),
    syncs,
    stop: async () => {
      stopped = true;
      await informer.stop();
      await Promise.allSettled(queues.values());
    },
  };
}
