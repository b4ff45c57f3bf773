import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import type { V1PodTemplateSpec } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { ESO_GROUP, ESO_VERSION, EXTERNAL_SECRETS } from '../src/activities/eso/external-secrets.js';
import type { KubeClients } from '../src/activities/kube/clients.js';
import { isApiStatus } from '../src/activities/kube/clients.js';
import { RotateOidcSecretsInput } from '../src/schemas/rotate-oidc-secrets.js';
import type { OidcClientTarget, WorkloadRef } from '../src/schemas/rotate-oidc-secrets.js';
import { startFakeInfisical } from './fakes/infisical.js';
import type { FakeInfisical, FakeInfisicalIdentity } from './fakes/infisical.js';

/**
 * The OIDC-client side of the lab, as the cluster has it: a ClusterSecretStore pointing at Infisical (the
 * fake) that the real External Secrets controller serves, per client an Infisical secret, an ExternalSecret
 * copying it into a Kubernetes Secret, and the consumer workloads that read that Secret at start.
 */
export interface InfisicalStoreSpec {
  name: string;
  projectId: string;
  environment: string;
  /** Namespace of the machine identity's credential Secret. */
  credentialsNamespace: string;
  /** ESO's machine identity: its own, not the worker's, as on the cluster (ESO reads, the worker writes). */
  identity: FakeInfisicalIdentity;
}

async function ignoreConflict(create: () => Promise<unknown>) {
  try {
    await create();
  } catch (error) {
    if (!isApiStatus(error, 409)) throw error;
  }
}

export async function ensureNamespace(kube: KubeClients, name: string) {
  await ignoreConflict(() => kube.core.createNamespace({ body: { metadata: { name } } }));
}

/**
 * The ClusterSecretStore (Infisical provider, universal auth) and its credential Secret; returns once ESO
 * has validated the store (logged in and listed the scope), so ExternalSecrets created next sync at once.
 */
export async function provisionInfisicalStore(kube: KubeClients, infisical: FakeInfisical, store: InfisicalStoreSpec) {
  await ensureNamespace(kube, store.credentialsNamespace);
  const credentials = `${store.name}-universal-auth`;
  await ignoreConflict(() =>
    kube.core.createNamespacedSecret({
      namespace: store.credentialsNamespace,
      body: { metadata: { name: credentials }, stringData: { clientId: store.identity.clientId, clientSecret: store.identity.clientSecret } },
    }),
  );
  const ref = (key: string) => ({ name: credentials, key, namespace: store.credentialsNamespace });
  await ignoreConflict(() =>
    kube.custom.createClusterCustomObject({
      group: ESO_GROUP,
      version: ESO_VERSION,
      plural: 'clustersecretstores',
      body: {
        apiVersion: `${ESO_GROUP}/${ESO_VERSION}`,
        kind: 'ClusterSecretStore',
        metadata: { name: store.name },
        spec: { provider: infisicalProvider(infisical.url, store, ref) },
      },
    }),
  );
  await storeReady(kube, store.name);
}

/**
 * ESO's Infisical provider (universal auth) for a store on the fake Infisical: the machine identity's
 * clientId and clientSecret are read from the Secret keys `ref` names.
 */
export function infisicalProvider(hostAPI: string, scope: { projectId: string; environment: string }, ref: (key: string) => object) {
  return {
    infisical: {
      hostAPI,
      auth: { universalAuthCredentials: { clientId: ref('clientId'), clientSecret: ref('clientSecret') } },
      secretsScope: { projectSlug: scope.projectId, environmentSlug: scope.environment, secretsPath: '/' },
    },
  };
}

/** Polls (startup only) until ESO reports the ClusterSecretStore Ready; fails with ESO's condition after a minute. */
async function storeReady(kube: KubeClients, name: string) {
  const deadline = Date.now() + 60_000;
  let condition: { status?: string; reason?: string; message?: string } | undefined;
  while (Date.now() < deadline) {
    const store = (await kube.custom.getClusterCustomObject({ group: ESO_GROUP, version: ESO_VERSION, plural: 'clustersecretstores', name })) as {
      status?: { conditions?: { type: string; status?: string; reason?: string; message?: string }[] };
    };
    condition = store.status?.conditions?.find((c) => c.type === 'Ready');
    if (condition?.status === 'True') return;
    await delay(200);
  }
  throw new Error(`ClusterSecretStore ${name} not Ready after 60s: ${condition ? `${condition.reason}: ${condition.message}` : 'ESO never reported on it'}`);
}

/** Key of the client secret inside the Kubernetes Secret ESO writes. */
export const CLIENT_SECRET_KEY = 'client-secret';

/**
 * One client's secret path through the lab: the Infisical secret (seeded with `initialSecret`), its
 * ExternalSecret and the consumer workloads (one replica each, reading the Secret through env).
 */
export async function provisionOidcClient(
  kube: KubeClients,
  infisical: FakeInfisical,
  target: OidcClientTarget,
  options: { store: string; storeKind?: 'ClusterSecretStore' | 'SecretStore'; initialSecret: string; podTemplate?: Partial<V1PodTemplateSpec['spec']> },
) {
  infisical.seed({ ...target.infisical }, options.initialSecret);
  const { namespace, name } = target.externalSecret;
  await ensureNamespace(kube, namespace);
  await ignoreConflict(() =>
    kube.custom.createNamespacedCustomObject({
      group: ESO_GROUP,
      version: ESO_VERSION,
      namespace,
      plural: EXTERNAL_SECRETS,
      body: {
        apiVersion: `${ESO_GROUP}/${ESO_VERSION}`,
        kind: 'ExternalSecret',
        metadata: { name },
        spec: {
          refreshInterval: '1h',
          secretStoreRef: { kind: options.storeKind ?? 'ClusterSecretStore', name: options.store },
          target: { name, creationPolicy: 'Owner' },
          data: [
            {
              secretKey: CLIENT_SECRET_KEY,
              remoteRef: { key: `${target.infisical.secretPath.replace(/\/$/, '')}/${target.infisical.secretName}` },
            },
          ],
        },
      },
    }),
  );
  for (const consumer of target.consumers) await provisionConsumer(kube, consumer, name, options.podTemplate);
}

/** A consumer workload (one replica) that reads the client secret from `secretName` through env. */
export async function provisionConsumer(kube: KubeClients, workload: WorkloadRef, secretName: string, podSpec: Partial<V1PodTemplateSpec['spec']> = {}) {
  await ensureNamespace(kube, workload.namespace);
  const labels = { app: workload.name };
  const spec = {
    replicas: 1,
    selector: { matchLabels: labels },
    template: {
      metadata: { labels },
      // No blanket toleration: it would let a drained pod be scheduled straight back onto the cordoned node.
      spec: {
        ...podSpec,
        containers: [
          {
            name: 'main',
            image: 'registry.invalid/sim:1',
            env: [{ name: 'OIDC_CLIENT_SECRET', valueFrom: { secretKeyRef: { name: secretName, key: CLIENT_SECRET_KEY } } }],
          },
        ],
      },
    },
  };
  const { namespace, name } = workload;
  await ignoreConflict(() =>
    workload.kind === 'Deployment'
      ? kube.apps.createNamespacedDeployment({ namespace, body: { metadata: { name }, spec } })
      : kube.apps.createNamespacedStatefulSet({ namespace, body: { metadata: { name }, spec: { ...spec, serviceName: name } } }),
  );
}

/**
 * The lab's OIDC side as `npm run lab` runs it, next to the real ESO controller: the fake Infisical, the
 * `infisical` ClusterSecretStore, and for every client of `clientsFile` (schedules/oidc-clients.yaml) its
 * secret, ExternalSecret and consumers, with the initial secrets of the lab's wcloud realm.
 */
export async function startLabOidc(kube: KubeClients, clientsFile: string, initialSecret: (clientId: string) => string) {
  const input = RotateOidcSecretsInput.parse(parseYaml(readFileSync(clientsFile, 'utf8')));
  const infisical = await startFakeInfisical();
  const store = 'infisical';
  const projectIds = new Set(input.clients.map((c) => c.infisical.projectId));
  const environments = new Set(input.clients.map((c) => c.infisical.environment));
  if (projectIds.size !== 1 || environments.size !== 1) throw new Error(`${clientsFile}: the lab serves one Infisical project and environment`);
  await provisionInfisicalStore(kube, infisical, {
    name: store,
    projectId: [...projectIds][0]!,
    environment: [...environments][0]!,
    credentialsNamespace: 'external-secrets',
    identity: infisical.addIdentity(),
  });
  for (const client of input.clients) await provisionOidcClient(kube, infisical, client, { store, initialSecret: initialSecret(client.clientId) });
  return {
    infisical,
    clients: input.clients,
    stop: () => infisical.close(),
  };
}
