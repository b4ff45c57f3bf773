import KcAdminClient from '@keycloak/keycloak-admin-client';
import { ApplicationFailure } from '@temporalio/common';
import { classifyTokenReply } from '../../domain/secret-rotation.js';
import type { TokenVerdict } from '../../domain/secret-rotation.js';
import { FailureType, notConfigured } from '../../failures.js';

/** How the worker reaches Keycloak's admin API: a service-account client, or a user (the lab's admin). */
export interface KeycloakDeps {
  url: string;
  /** The realm whose clients are rotated (wcloud). */
  realm: string;
  /** The realm the admin credentials belong to (master, unless the admin client lives in `realm`). */
  adminRealm: string;
  credentials: { clientId: string; clientSecret: string } | { clientId: string; username: string; password: string };
}

/** The worker's Keycloak, or a NotConfigured failure where the worker was given none. */
export function configuredKeycloak(keycloak: KeycloakDeps | undefined): KeycloakDeps {
  if (!keycloak) throw notConfigured('Keycloak (KEYCLOAK_URL and admin credentials)');
  return keycloak;
}

/**
 * A freshly authenticated admin client per activity: admin tokens live a minute by default, shorter than
 * a retried activity, and logging in costs one request.
 */
export async function adminClient(deps: KeycloakDeps): Promise<KcAdminClient> {
  const kc = new KcAdminClient({ baseUrl: deps.url, realmName: deps.adminRealm });
  const c = deps.credentials;
  await kc.auth(
    'clientSecret' in c
      ? { grantType: 'client_credentials', clientId: c.clientId, clientSecret: c.clientSecret }
      : { grantType: 'password', clientId: c.clientId, username: c.username, password: c.password },
  );
  kc.setConfig({ realmName: deps.realm });
  return kc;
}

export interface ClientSecrets {
  /** Keycloak's internal id of the client (the admin API's path parameter). */
  id: string;
  current: string;
  rotated?: string;
}

/** The client's internal id; unknown clients fail for good (a typo in the client list). */
export async function findClient(kc: KcAdminClient, deps: KeycloakDeps, clientId: string) {
  const [client] = await kc.clients.find({ clientId });
  if (!client?.id) {
    throw ApplicationFailure.nonRetryable(`Keycloak realm ${deps.realm} has no client ${clientId}`, FailureType.OidcClientNotFound);
  }
  return client as typeof client & { id: string };
}

/** Current and rotated secret. The admin client has no call for the rotated slot: plain fetch with its token. */
export async function readSecrets(kc: KcAdminClient, deps: KeycloakDeps, id: string): Promise<ClientSecrets> {
  const current = await kc.clients.getClientSecret({ id });
  const response = await fetch(`${deps.url}/admin/realms/${encodeURIComponent(deps.realm)}/clients/${id}/client-secret/rotated`, {
    headers: { authorization: `Bearer ${await kc.getAccessToken()}` },
  });
  let rotated: string | undefined;
  if (response.ok) rotated = ((await response.json()) as { value?: string }).value;
  else if (response.status !== 404) throw new Error(`reading the rotated secret: HTTP ${response.status}`);
  else await response.body?.cancel();
  if (!current.value) throw new Error('Keycloak returned no client secret');
  return { id, current: current.value, rotated };
}

/** Asks the token endpoint whether `secret` authenticates `clientId` (client_credentials grant). */
export async function tryClientSecret(deps: KeycloakDeps, clientId: string, secret: string): Promise<TokenVerdict> {
  const response = await fetch(`${deps.url}/realms/${encodeURIComponent(deps.realm)}/protocol/openid-connect/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }),
  });
  const text = await response.text();
  let body: { error?: string; error_description?: string } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // a proxy's HTML error page: the verdict stays unknown
  }
  return classifyTokenReply(response.status, body);
}
