import { tryClientSecret } from '../../src/activities/keycloak/admin.js';
import type { rotateOidcClient } from '../../src/workflows/rotate-oidc-client.js';
import { createTestClient, keycloakDeps, secretsOf } from '../helpers/keycloak.js';
import { killAtEveryBoundary, printSweep } from '../helpers/kill-sweep.js';
import { eventually, uniqueName } from '../helpers/kube.js';
import { loginProbe, startOidcTestBed } from '../helpers/oidc.js';
import { fileWorld } from '../helpers/world.js';

// rotateOidcClient against the real Keycloak and the real ESO (fake Infisical, a consumer Deployment), its worker
// SIGKILLed at every activity boundary in turn, while a probe keeps logging in with the consumer's secret.
const world = fileWorld('sweep-oidc', (cluster) => startOidcTestBed(cluster), 420_000);

test('rotateOidcClient completes after a SIGKILL at each activity boundary: one regeneration, no failed login', async () => {
  const { bed, client } = world;
  const keycloakClient = await createTestClient('sweep');
  const target = await bed.target(keycloakClient);
  await eventually(() => bed.consumerSecret(target), `first sync of ${target.externalSecret.name}`);
  const taskQueue = uniqueName('sweep-oidc');
  const probe = loginProbe(bed, [{ target, client: keycloakClient }]);
  const handle = await client.workflow.start<typeof rotateOidcClient>('rotateOidcClient', {
    taskQueue,
    workflowId: uniqueName('sweep-rotate'),
    args: [{ client: target, policy: { soakSeconds: 3, ensureClientPolicy: true, clientPolicy: { graceSeconds: 3600 } } }],
  });
  const figure = await killAtEveryBoundary(client, handle, taskQueue, bed.workerEnv());
  const probed = await probe.stop();

  expect(await handle.result()).toMatchObject({ outcome: 'rotated', regeneration: 'regenerated', revoked: true });
  expect(probed.failures).toEqual([]);
  expect(probed.attempts).toBeGreaterThan(10);
  // Exactly one regeneration: Infisical got one new version, Keycloak holds it, the old one is revoked.
  const now = await secretsOf(keycloakClient.clientId);
  expect(bed.infisical.history({ ...target.infisical })).toEqual([keycloakClient.secret, now.current]);
  expect(now.rotated).toBeUndefined();
  expect(await tryClientSecret(keycloakDeps(), keycloakClient.clientId, keycloakClient.secret)).toBe('refused');
  expect(await bed.consumerSecret(target)).toBe(now.current);
  expect(figure.kills).toBe(figure.boundaries);
  expect(figure.boundaries).toBeGreaterThan(6);
  printSweep('rotateOidcClient', figure);
}, 600_000);
