import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import { tryClientSecret } from '../../src/activities/keycloak/admin.js';
import { fingerprint } from '../../src/activities/fingerprint.js';
import type { rotateOidcSecrets } from '../../src/workflows/rotate-oidc-secrets.js';
import { testEnv } from '../helpers/env.js';
import { createTestClient, keycloakDeps, secretsOf } from '../helpers/keycloak.js';
import { eventually, uniqueName } from '../helpers/kube.js';
import { loginProbe, startOidcTestBed } from '../helpers/oidc.js';
import { spawnBuiltWorker } from '../helpers/temporal.js';
import { fileWorld } from '../helpers/world.js';

// Two clients rotated by the built worker on the dev server against the real Keycloak, while a probe keeps
// logging in with whatever the consumer's Secret holds; the worker is SIGKILLed right after the first
// regeneration. Afterwards the whole history and the worker's log are searched for every secret value.
const world = fileWorld('e2e-oidc', (cluster) => startOidcTestBed(cluster), 420_000);

function startWorker(taskQueue: string, log: string[]): ChildProcess {
  const worker = spawnBuiltWorker(taskQueue, { LOG_LEVEL: 'DEBUG', ...world.bed.workerEnv() });
  worker.stdout!.on('data', (chunk: Buffer) => log.push(chunk.toString('utf8')));
  return worker;
}

/** History events with every payload's bytes decoded to text, so a secret in any payload would show. */
async function historyText(handle: WorkflowHandle): Promise<string> {
  const history = await handle.fetchHistory();
  return JSON.stringify(history, (key, value: unknown) => {
    if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
    if (key === 'data' && typeof value === 'string') return Buffer.from(value, 'base64').toString('utf8');
    return value;
  });
}

test('two clients rotate with no failed login, exactly one regeneration across a SIGKILLed worker, no secret in history or logs', async () => {
  const { bed, client } = world;
  const clients = [await createTestClient('e2e-a'), await createTestClient('e2e-b')];
  const targets = [];
  for (const c of clients) targets.push({ client: c, target: await bed.target(c) });
  for (const { target } of targets) await eventually(() => bed.consumerSecret(target), `first sync of ${target.externalSecret.name}`);
  const taskQueue = uniqueName('e2e-oidc');
  const log: string[] = [];
  let worker = startWorker(taskQueue, log);
  const running = loginProbe(bed, targets);
  const workflowId = uniqueName('rotate-oidc-secrets');
  const handle = await client.workflow.start<typeof rotateOidcSecrets>('rotateOidcSecrets', {
    taskQueue,
    workflowId,
    args: [{ clients: targets.map((t) => t.target), policy: { soakSeconds: 5, ensureClientPolicy: true, clientPolicy: { graceSeconds: 3600 } } }],
  });
  let result;
  try {
    // Right after Keycloak regenerated the first client's secret (its old one moved to the rotated slot).
    const first = clients[0]!;
    for (;;) {
      if ((await secretsOf(first.clientId)).rotated === first.secret) break;
      await delay(20);
    }
    worker.kill('SIGKILL');
    await new Promise((resolve) => worker.once('exit', resolve));
    worker = startWorker(taskQueue, log);
    result = await handle.result();
  } finally {
    worker.kill('SIGTERM');
    await new Promise((resolve) => worker.once('exit', resolve));
  }
  const probed = await running.stop();

  expect(result.outcome).toBe('completed');
  expect(result.clients.map((c) => [c.clientId, c.status])).toEqual(clients.map((c) => [c.clientId, 'rotated']));
  expect(probed.failures).toEqual([]);
  expect(probed.attempts).toBeGreaterThan(10);
  const newSecrets: string[] = [];
  for (const { client: c, target } of targets) {
    const now = await secretsOf(c.clientId);
    newSecrets.push(now.current);
    // Exactly one regeneration: Infisical got one new version, Keycloak holds it, the old one is revoked.
    expect(bed.infisical.history({ ...target.infisical })).toEqual([c.secret, now.current]);
    expect(now.rotated).toBeUndefined();
    expect(await tryClientSecret(keycloakDeps(), c.clientId, c.secret)).toBe('refused');
    expect(await tryClientSecret(keycloakDeps(), c.clientId, now.current)).toBe('accepted');
    expect(await bed.consumerSecret(target)).toBe(now.current);
  }

  // The first client's run really spanned the killed worker and its replacement.
  const firstChild = await client.workflow.getHandle(result.clients[0]!.workflowId).fetchHistory();
  const workers = new Set(firstChild.events!.flatMap((e) => e.activityTaskStartedEventAttributes?.identity ?? []));
  expect(workers.size).toBe(2);

  const texts = [
    await historyText(handle),
    ...(await Promise.all(result.clients.map((c) => historyText(client.workflow.getHandle(c.workflowId))))),
    log.join(''),
    // The run's ESO controller synced these secrets: its log is searched too.
    readFileSync(testEnv('externalSecretsLog'), 'utf8'),
  ];
  expect(texts[0]).toContain('rotateOidcClient'); // the search covers real content
  expect(texts.at(-2)!.length).toBeGreaterThan(0);
  expect(texts.at(-1)).toContain(targets[0]!.target.externalSecret.name);
  for (const secret of [...clients.map((c) => c.secret), ...newSecrets]) {
    for (const text of texts) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(Buffer.from(secret).toString('base64'));
    }
  }
  // Fingerprints are what the history carries instead.
  expect(texts[1]).toContain(fingerprint(newSecrets[0]!));
}, 300_000);
