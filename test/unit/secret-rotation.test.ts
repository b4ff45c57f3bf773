import { classifyTokenReply, decideRegeneration, preflightConsistency } from '../../src/domain/secret-rotation.js';

const OLD = 'sha256:000000000001';
const NEW = 'sha256:000000000002';
const OTHER = 'sha256:000000000003';

test.each([
  ['both sides still hold the baseline', { keycloakCurrent: OLD, stored: OLD }, 'regenerate'],
  ['regenerated, rotated slot holds the baseline, not stored', { keycloakCurrent: NEW, keycloakRotated: OLD, stored: OLD }, 'store-current'],
  ['regenerated and stored (a retry after the work was done)', { keycloakCurrent: NEW, keycloakRotated: OLD, stored: NEW }, 'done'],
  ['done, and the rotated slot already revoked', { keycloakCurrent: NEW, stored: NEW }, 'done'],
  ['Keycloak changed by someone else, baseline not in the rotated slot', { keycloakCurrent: NEW, keycloakRotated: OTHER, stored: OLD }, 'drift'],
  ['Keycloak changed, no rotated slot (no policy: the old secret is dead)', { keycloakCurrent: NEW, stored: OLD }, 'drift'],
  ['Infisical changed by someone else', { keycloakCurrent: OLD, stored: OTHER }, 'drift'],
])('decideRegeneration: %s → %s', (_what, state, action) => {
  expect(decideRegeneration(state, OLD).action).toBe(action);
});

test('a drift reason names fingerprints only', () => {
  const decision = decideRegeneration({ keycloakCurrent: NEW, keycloakRotated: OTHER, stored: OLD }, OLD);
  expect(decision).toMatchObject({ action: 'drift' });
  expect((decision as { reason: string }).reason).toContain(OTHER);
});

test.each([
  [
    { keycloakCurrent: OLD, stored: OLD },
    { ok: true, resuming: false },
  ],
  [
    { keycloakCurrent: NEW, keycloakRotated: OLD, stored: OLD },
    { ok: true, resuming: true },
  ],
  [{ keycloakCurrent: NEW, stored: OLD }, { ok: false }],
])('preflightConsistency %#', (state, expected) => {
  expect(preflightConsistency(state)).toMatchObject(expected);
});

test.each([
  [200, {}, 'accepted'],
  [401, { error: 'unauthorized_client', error_description: 'Client not enabled to retrieve service account' }, 'accepted'],
  [401, { error: 'unauthorized_client', error_description: 'Invalid client or Invalid client credentials' }, 'refused'],
  [401, { error: 'invalid_client', error_description: 'Invalid client credentials' }, 'refused'],
  [503, {}, 'unknown'],
  [400, { error: 'invalid_request' }, 'unknown'],
])('classifyTokenReply(%i, %j) → %s', (status, body, verdict) => {
  expect(classifyTokenReply(status, body)).toBe(verdict);
});
