/**
 * Pure rules of an OIDC client secret rotation. Values never reach this module: only fingerprints
 * (hash prefixes) of Keycloak's current and rotated secrets and of the copy stored in Infisical.
 */

/** What the regenerate-and-store step must do, given where the secret is now. */
export type RegenerationDecision =
  | { action: 'regenerate' }
  /** Keycloak already regenerated (the old secret sits in the rotated slot) but Infisical was not written. */
  | { action: 'store-current' }
  /** Both sides already hold the new secret: a retry after the step had finished its work. */
  | { action: 'done' }
  | { action: 'drift'; reason: string };

export interface SecretState {
  keycloakCurrent: string;
  keycloakRotated?: string;
  stored: string;
}

/**
 * `baseline` is the fingerprint Infisical held when the run started (the secret consumers use). Keycloak
 * keeps a single rotated slot, so regenerating twice would push out the secret consumers still use:
 * regenerate only when both sides still hold the baseline.
 */
export function decideRegeneration(state: SecretState, baseline: string): RegenerationDecision {
  const { keycloakCurrent, keycloakRotated, stored } = state;
  if (stored === baseline) {
    if (keycloakCurrent === baseline) return { action: 'regenerate' };
    if (keycloakRotated === baseline) return { action: 'store-current' };
    return {
      action: 'drift',
      reason: `Keycloak's secret (${keycloakCurrent}) is neither the stored one (${stored}) nor was it rotated from it (rotated slot: ${keycloakRotated ?? 'empty'}): changed outside this run`,
    };
  }
  if (stored === keycloakCurrent) return { action: 'done' };
  return {
    action: 'drift',
    reason: `Infisical's secret changed outside this run (${baseline} → ${stored}) and differs from Keycloak's (${keycloakCurrent})`,
  };
}

/**
 * Whether a run may start: Infisical and Keycloak agree, or a previous run regenerated and died before
 * storing (the stored secret is in Keycloak's rotated slot; this run then only stores).
 */
export function preflightConsistency(state: SecretState): { ok: true; resuming: boolean } | { ok: false; reason: string } {
  if (state.keycloakCurrent === state.stored) return { ok: true, resuming: false };
  if (state.keycloakRotated === state.stored) return { ok: true, resuming: true };
  return {
    ok: false,
    reason: `Infisical holds ${state.stored} but Keycloak's secret is ${state.keycloakCurrent} (rotated slot: ${state.keycloakRotated ?? 'empty'}): fix the drift by hand first`,
  };
}

export type TokenVerdict = 'accepted' | 'refused' | 'unknown';

/**
 * Keycloak's token endpoint answers 401 both for a right secret on a client without service accounts and
 * for a wrong secret: the description tells them apart (client_credentials grant).
 */
export function classifyTokenReply(status: number, body: { error?: string; error_description?: string }): TokenVerdict {
  if (status === 200) return 'accepted';
  const description = body.error_description ?? '';
  if (/not enabled to retrieve service account/i.test(description)) return 'accepted';
  if (/invalid client (or invalid client )?credentials/i.test(description)) return 'refused';
  return 'unknown';
}
