import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { fingerprint } from '../../src/activities/fingerprint.js';
import type { Progress } from '../../src/schemas/progress.js';
import { rotateOidcSecrets } from '../../src/workflows/rotate-oidc-secrets.js';
import { createTestClient, secretsOf } from '../helpers/keycloak.js';
import { eventually, TestCluster, uniqueName } from '../helpers/kube.js';
import { startOidcTestBed } from '../helpers/oidc.js';
import type { OidcTestBed } from '../helpers/oidc.js';
import { commandsReady, rejectionOf, timeSkippingEnvironment, withWorker } from '../helpers/temporal.js';

// The parent over a client list on the time-skipping server, real activities underneath.
let env: TestWorkflowEnvironment;
let cluster: TestCluster;
let bed: OidcTestBed;

beforeAll(async () => {
  [env, cluster] = await Promise.all([timeSkippingEnvironment(), TestCluster.create('rotate-all')]);
  bed = await startOidcTestBed(cluster);
}, 420_000);
afterAll(async () => {
  await bed?.stop();
  await Promise.all([env?.teardown(), cluster?.close()]);
});

const policy = { soakSeconds: 3600, ensureClientPolicy: true, clientPolicy: { graceSeconds: 7200 } };
const eventTime = (e: { eventTime?: { seconds?: unknown; nanos?: number | null } | null }) =>
  Number(e.eventTime!.seconds) * 1000 + (e.eventTime!.nanos ?? 0) / 1e6;

test('rotates the listed clients one at a time, only those asked for', async () => {
  const [a, b, skipped] = [await createTestClient('all-a'), await createTestClient('all-b'), await createTestClient('all-c')];
  const targets = [await bed.target(a), await bed.target(b), await bed.target(skipped, { consumers: 0 })];
  const { result, children } = await withWorker(env, bed.deps, async (taskQueue) => {
    const handle = await env.client.workflow.start(rotateOidcSecrets, {
      taskQueue,
      workflowId: uniqueName('rotate-all'),
      args: [{ clients: targets, only: [a.clientId, b.clientId], policy }],
    });
    const result = await handle.result();
    const children = await Promise.all(result.clients.map((c) => env.client.workflow.getHandle(c.workflowId).fetchHistory()));
    return { result, children };
  });
  expect(result.outcome).toBe('completed');
  expect(result.clients.map((c) => [c.clientId, c.status])).toEqual([
    [a.clientId, 'rotated'],
    [b.clientId, 'rotated'],
  ]);
  for (const [i, c] of [a, b].entries()) expect(result.clients[i]!.newFingerprint).toBe(fingerprint((await secretsOf(c.clientId)).current));
  // One at a time: the second child started after the first had finished (soak included).
  const firstEnd = eventTime(children[0]!.events!.at(-1)!);
  const secondStart = eventTime(children[1]!.events![0]!);
  expect(secondStart).toBeGreaterThanOrEqual(firstEnd);
  expect(await secretsOf(skipped.clientId)).toEqual({ current: skipped.secret, rotated: undefined });
});

test('abort on the parent reaches the child waiting after a failure; the rest is not started', async () => {
  const [a, b] = [await createTestClient('stop-a'), await createTestClient('stop-b')];
  const broken = {
    ...(await bed.target(a, { consumers: 0 })),
    consumers: [{ kind: 'Deployment' as const, namespace: cluster.namespace, name: `${a.clientId}-missing` }],
  };
  const second = await bed.target(b, { consumers: 0 });
  const result = await withWorker(env, bed.deps, async (taskQueue) => {
    // Started paused: no client runs yet, so there is nothing to pass a retry on to.
    const handle = await env.client.workflow.signalWithStart(rotateOidcSecrets, {
      taskQueue,
      workflowId: uniqueName('rotate-stop'),
      args: [{ clients: [broken, second], policy }],
      signal: 'pause',
      signalArgs: [],
    });
    await commandsReady(handle);
    expect(await rejectionOf(handle, 'retry')).toBe('retry rejected: no client is being rotated now');
    expect(await handle.executeUpdate<string, []>('resume')).toBe('resumed');
    const child = env.client.workflow.getHandle(`${handle.workflowId}/${a.clientId}`);
    await eventually(
      async () => (await child.query<Progress>('progress').catch(() => undefined))?.phase.startsWith('failed at restart'),
      'the child to wait after its failure',
      60_000,
    );
    await handle.signal('abort', 'consumer missing');
    return handle.result();
  });
  expect(result.outcome).toBe('aborted');
  expect(result.clients.map((c) => [c.clientId, c.status])).toEqual([
    [a.clientId, 'aborted'],
    [b.clientId, 'not-started'],
  ]);
  expect(result.clients[0]!.message).toContain('NOT revoked');
  expect((await secretsOf(a.clientId)).rotated).toBe(a.secret);
  expect(await secretsOf(b.clientId)).toEqual({ current: b.secret, rotated: undefined });
});
