import { setTimeout as delay } from 'node:timers/promises';
import { WILLINGHAM_NODES } from '../../lab/kube/nodes.js';
import { startFakeInfisical } from '../../lab/fakes/infisical.js';
import type { FakeInfisical, FakeInfisicalIdentity } from '../../lab/fakes/infisical.js';
import { CLIENT_SECRET_KEY, provisionInfisicalStore, provisionOidcClient } from '../../lab/oidc.js';
import { ESO_GROUP, ESO_VERSION } from '../../src/activities/eso/external-secrets.js';
import type { ActivityDeps } from '../../src/activities/index.js';
import type { InfisicalDeps } from '../../src/activities/infisical/secrets.js';
import { fingerprint } from '../../src/activities/fingerprint.js';
import { tryClientSecret } from '../../src/activities/keycloak/admin.js';
import type { OidcClientTarget } from '../../src/schemas/rotate-oidc-secrets.js';
import { testEnv } from './env.js';
import { keycloakDeps, keycloakReady } from './keycloak.js';
import type { TestClient } from './keycloak.js';
import type { TestCluster } from './kube.js';
import { uniqueName } from './kube.js';

/**
 * What a rotation test needs around the real Keycloak: the fake Infisical, a ClusterSecretStore of its own
 * served by the run's real ESO controller (global setup) with its own machine identity, and a simulated node
 * for the consumer pods — all in the test's cluster share.
 */
export interface OidcTestBed {
  infisical: FakeInfisical;
  /** ESO's machine identity in the fake Infisical (the worker has its own: infisical.identity). */
  esoIdentity: FakeInfisicalIdentity;
  /** A further ClusterSecretStore on the same fake Infisical, with `identity` (ESO-validated when this returns). */
  addStore(identity: FakeInfisicalIdentity): Promise<string>;
  deps: ActivityDeps;
  infisicalDeps: InfisicalDeps;
  /** Provisions a client's secret path (Infisical secret, ExternalSecret, consumer Deployments). */
  target(client: TestClient, options?: { consumers?: number; store?: string }): Promise<OidcClientTarget>;
  /** The value the consumer's Kubernetes Secret holds now. */
  consumerSecret(target: OidcClientTarget): Promise<string | undefined>;
  /** The built worker's environment for the real Keycloak and this fake Infisical (spawnBuiltWorker). */
  workerEnv(): Record<string, string>;
  stop(): Promise<void>;
}

export const TEST_PROJECT = 'willingham-k8s';

export async function startOidcTestBed(cluster: TestCluster): Promise<OidcTestBed> {
  const [infisical, node] = await Promise.all([startFakeInfisical(), cluster.addNode(WILLINGHAM_NODES[0]!), keycloakReady()]);
  const stores: string[] = [];
  const addStore = async (identity: FakeInfisicalIdentity) => {
    const name = uniqueName('infisical');
    stores.push(name);
    await provisionInfisicalStore(cluster.kube, infisical, {
      name,
      projectId: TEST_PROJECT,
      environment: 'prod',
      credentialsNamespace: cluster.namespace,
      identity,
    });
    return name;
  };
  const esoIdentity = infisical.addIdentity();
  const store = await addStore(esoIdentity);
  const infisicalDeps = { siteUrl: infisical.url, ...infisical.identity };
  const namespace = cluster.namespace;
  return {
    infisical,
    esoIdentity,
    addStore,
    infisicalDeps,
    deps: { kube: cluster.kube, keycloak: keycloakDeps(), infisical: infisicalDeps },
    async target(client, { consumers = 1, store: storeName = store } = {}) {
      const target: OidcClientTarget = {
        clientId: client.clientId,
        infisical: {
          projectId: TEST_PROJECT,
          environment: 'prod',
          secretPath: '/keycloak',
          secretName: `${client.clientId.toUpperCase().replace(/-/g, '_')}_CLIENT_SECRET`,
        },
        externalSecret: { namespace, name: `${client.clientId}-oidc` },
        consumers: Array.from({ length: consumers }, (_, i) => ({ kind: 'Deployment' as const, namespace, name: `${client.clientId}-app${i}` })),
      };
      await provisionOidcClient(cluster.kube, infisical, target, {
        store: storeName,
        initialSecret: client.secret,
        podTemplate: { nodeSelector: { 'kubernetes.io/hostname': node } },
      });
      return target;
    },
    async consumerSecret(target) {
      const secret = await cluster.kube.core.readNamespacedSecret({ namespace, name: target.externalSecret.name }).catch(() => undefined);
      const encoded = secret?.data?.[CLIENT_SECRET_KEY];
      return encoded === undefined ? undefined : Buffer.from(encoded, 'base64').toString('utf8');
    },
    workerEnv() {
      const [username, password] = testEnv('keycloakAdmin').split(':') as [string, string];
      return {
        KEYCLOAK_URL: testEnv('keycloakUrl'),
        KEYCLOAK_ADMIN_USERNAME: username,
        KEYCLOAK_ADMIN_PASSWORD: password,
        INFISICAL_URL: infisicalDeps.siteUrl,
        INFISICAL_CLIENT_ID: infisicalDeps.clientId,
        INFISICAL_CLIENT_SECRET: infisicalDeps.clientSecret,
      };
    },
    async stop() {
      // Cluster-scoped, so the test's namespace cleanup leaves them: ESO would go on validating them against
      // a fake Infisical that is gone.
      for (const name of stores) {
        await cluster.kube.custom
          .deleteClusterCustomObject({ group: ESO_GROUP, version: ESO_VERSION, plural: 'clustersecretstores', name })
          .catch(() => undefined);
      }
      await infisical.close();
    },
  };
}

/**
 * Logs in, over and over, with the secret the consumer's Kubernetes Secret holds at that moment (what a
 * restarted consumer would read), and records every refusal.
 */
export function loginProbe(bed: OidcTestBed, targets: { target: OidcClientTarget; client: TestClient }[]) {
  const failures: string[] = [];
  let attempts = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const { target, client } of targets) {
        const secret = await bed.consumerSecret(target);
        const verdict = secret === undefined ? 'no secret' : await tryClientSecret(keycloakDeps(), client.clientId, secret);
        attempts += 1;
        if (verdict !== 'accepted') failures.push(`${client.clientId}: ${verdict} with ${secret && fingerprint(secret)}`);
      }
      await delay(100);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { failures, attempts };
    },
  };
}
