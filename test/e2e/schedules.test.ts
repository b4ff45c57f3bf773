import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { stringify } from 'yaml';
import { planSchedules } from '../../src/client/schedules.js';
import { runCli } from '../helpers/cli.js';
import { testEnv } from '../helpers/env.js';
import { uniqueName } from '../helpers/kube.js';
import { scheduleExists } from '../helpers/temporal.js';

// `cluster-ops schedules apply` (the built CLI) against the dev server: create, update in place, and a bad
// entry that stops the whole file before the server is touched.
let client: Client;
const taskQueue = uniqueName('schedules');
const dir = mkdtempSync(join(tmpdir(), 'schedules-'));
const oidcClients = resolve('schedules/oidc-clients.yaml');

beforeAll(async () => {
  client = new Client({ connection: await Connection.connect({ address: testEnv('temporalAddress') }) });
});
afterAll(() => client?.connection.close());

async function apply(schedules: unknown[]) {
  const file = join(dir, `${uniqueName('file')}.yaml`);
  writeFileSync(file, stringify({ schedules }));
  return runCli(['schedules', 'apply', '--file', file], { TASK_QUEUE: taskQueue });
}

const exists = (id: string) => scheduleExists(client, id);

test('the committed schedules file is valid: the 90-day OIDC rotation over the seven clients, the nightly NCCL benchmark', () => {
  const [rotation, ...others] = planSchedules('schedules/schedules.yaml').filter((p) => p.entry.workflow === 'rotateOidcSecrets');
  expect(others).toEqual([]);
  expect(rotation!.entry.every).toBe('90d');
  expect((rotation!.input as { clients: { clientId: string }[] }).clients.map((c) => c.clientId)).toEqual([
    'argocd',
    'argo-workflows',
    'grafana',
    'temporal',
    'kafbat',
    'headlamp',
    'rabbitmq',
  ]);
  const [nightly, ...moreNccl] = planSchedules('schedules/schedules.yaml').filter((p) => p.entry.workflow === 'ncclJob');
  expect(moreNccl).toEqual([]);
  expect(nightly!.entry.cron).toEqual(['0 3 * * *']);
  expect(nightly!.input).toMatchObject({ kind: 'benchmark', benchmark: { test: 'all_reduce_perf' } });
});

test('creates schedules, then updates them in place (create or update by id)', async () => {
  const rotation = { id: uniqueName('rotate-oidc'), workflow: 'rotateOidcSecrets', inputFile: oidcClients, every: '90d', paused: true, note: 'test' };
  const drain = { id: uniqueName('drain'), workflow: 'drainNode', input: { node: 'talos-7aj-lwl', dryRun: true }, cron: ['0 3 * * 0'], paused: true };
  const first = await apply([rotation, drain]);
  expect(first).toMatchObject({ code: 0 });
  expect(first.stdout).toBe(`created schedule ${rotation.id}\ncreated schedule ${drain.id}\n`);
  const created = await client.schedule.getHandle(rotation.id).describe();
  expect(created.spec.intervals?.map((i) => i.every)).toEqual([90 * 24 * 3600 * 1000]);
  expect(created.state.paused).toBe(true);
  expect(created.action).toMatchObject({ type: 'startWorkflow', workflowType: 'rotateOidcSecrets', workflowId: 'rotate-oidc-secrets', taskQueue });

  const second = await apply([{ ...rotation, every: '30d', paused: false }, drain]);
  expect(second.stdout).toBe(`updated schedule ${rotation.id}\nupdated schedule ${drain.id}\n`);
  const updated = await client.schedule.getHandle(rotation.id).describe();
  expect(updated.spec.intervals?.map((i) => i.every)).toEqual([30 * 24 * 3600 * 1000]);
  expect(updated.state.paused).toBe(false);
  expect((await client.schedule.getHandle(drain.id).describe()).spec.calendars?.length).toBe(1);
  await Promise.all([rotation.id, drain.id].map((id) => client.schedule.getHandle(id).delete()));
});

test('one bad entry stops the whole file: each problem named, no schedule created', async () => {
  const good = { id: uniqueName('good'), workflow: 'drainNode', input: { node: 'talos-7aj-lwl' }, every: '1d' };
  const result = await apply([
    good,
    { id: uniqueName('bad-input'), workflow: 'drainNode', input: { node: 'Not A Node' }, every: '1d' },
    { id: uniqueName('bad-name'), workflow: 'rebootEverything', every: '1d' },
  ]);
  expect(result.code).toBe(2);
  expect(result.stderr).toMatch(/invalid input for drainNode:\ninput\.node: must be a lowercase RFC 1123 name/);
  expect(result.stderr).toMatch(/unknown workflow "rebootEverything"/);
  expect(await exists(good.id)).toBe(false);
  const timing = await apply([{ id: uniqueName('no-timing'), workflow: 'drainNode', input: { node: 'n1' } }]);
  expect(timing.stderr).toMatch(/file\.schedules\.0\.cron: give exactly one of cron and every/);
});
