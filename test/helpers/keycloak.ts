import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import KcAdminClient from '@keycloak/keycloak-admin-client';
import { LAB_REALM } from '../../lab/keycloak.js';
import { adminClient, findClient, readSecrets } from '../../src/activities/keycloak/admin.js';
import type { KeycloakDeps } from '../../src/activities/keycloak/admin.js';
import { testEnv } from './env.js';
import { uniqueName } from './kube.js';

const READY_TIMEOUT_MS = 6 * 60_000;

/** The run's Keycloak (started by global setup) as the worker would reach it, in `realm`. */
export function keycloakDeps(realm = LAB_REALM): KeycloakDeps {
  const [username, password] = testEnv('keycloakAdmin').split(':') as [string, string];
  return { url: testEnv('keycloakUrl'), realm, adminRealm: 'master', credentials: { clientId: 'admin-cli', username, password } };
}

/** Global setup launches Keycloak without waiting; its first start takes a minute or more. */
export async function keycloakReady(): Promise<void> {
  const url = `${testEnv('keycloakUrl')}/realms/${LAB_REALM}/.well-known/openid-configuration`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await delay(500);
  }
  const log = readFileSync(testEnv('keycloakLog'), 'utf8').split('\n').slice(-20).join('\n');
  throw new Error(`Keycloak not ready after ${READY_TIMEOUT_MS / 1000}s:\n${log}`);
}

export interface TestClient {
  clientId: string;
  secret: string;
}

/** A confidential login client (no service account, like the cluster's) with a unique id: tests never share one. */
export async function createTestClient(prefix: string, deps = keycloakDeps()): Promise<TestClient> {
  const kc = await adminClient(deps);
  const clientId = uniqueName(prefix);
  const secret = randomBytes(16).toString('hex');
  await kc.clients.create({
    clientId,
    enabled: true,
    protocol: 'openid-connect',
    publicClient: false,
    clientAuthenticatorType: 'client-secret',
    secret,
    standardFlowEnabled: true,
    serviceAccountsEnabled: false,
    redirectUris: [`https://${clientId}.wcloud.sh/callback`],
  });
  return { clientId, secret };
}

/** A realm of its own (~8 s), for tests that change realm-wide settings such as client policies. */
export async function createTestRealm(prefix: string): Promise<KeycloakDeps> {
  const master = keycloakDeps('master');
  const kc: KcAdminClient = await adminClient(master);
  const realm = uniqueName(prefix);
  await kc.realms.create({ realm, enabled: true });
  return { ...master, realm };
}

/** Keycloak's current and rotated secret, straight from the admin API (tests check what the activities did). */
export async function secretsOf(clientId: string, deps = keycloakDeps()): Promise<{ current: string; rotated?: string }> {
  const kc = await adminClient(deps);
  const client = await findClient(kc, deps, clientId);
  const { current, rotated } = await readSecrets(kc, deps, client.id);
  return { current, rotated };
}
