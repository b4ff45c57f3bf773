import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { runCli } from '../helpers/cli.js';
import type { Progress } from '../../src/schemas/progress.js';
import { eventually, TestCluster, uniqueName } from '../helpers/kube.js';
import { devServerWorker } from '../helpers/temporal.js';

// The built `cluster-ops` CLI against the Temporal CLI's dev server, with a real worker behind it.
const taskQueue = uniqueName('cli');
let cluster: TestCluster;
let client: Client;
let stopWorker: () => Promise<void>;

beforeAll(async () => {
  cluster = await TestCluster.create('cli');
  const worker = await devServerWorker(taskQueue, { kube: cluster.kube });
  client = worker.client;
  stopWorker = worker.stop;
});
afterAll(async () => {
  await stopWorker?.();
  await cluster?.close();
});

const cli = (...args: string[]) => runCli(args, { TASK_QUEUE: taskQueue });

const runsOfType = async (type: string) => {
  let count = 0;
  for await (const run of client.workflow.list({ query: `WorkflowType = '${type}' AND TaskQueue = '${taskQueue}'` })) {
    if (run) count += 1;
  }
  return count;
};

test('a malformed input names the bad field, exits non-zero, and starts nothing', async () => {
  const result = await cli('start', 'drainNode', '--input', '{"node": "Bad Name", "timeoutSeconds": "soon"}');
  expect(result.code).toBe(2);
  expect(result.stderr).toMatch(/input\.node: must be a lowercase RFC 1123 name/);
  expect(result.stderr).toMatch(/input\.timeoutSeconds:/);
  expect(await runsOfType('drainNode')).toBe(0);
});

test('unknown workflows, bad JSON and unknown commands are usage errors', async () => {
  expect(await cli('start', 'rebootEverything', '--input', '{}')).toMatchObject({
    code: 2,
    stderr: expect.stringMatching(
      /unknown workflow "rebootEverything"; known: bootstrapCluster, bootstrapNode, drainNode, ncclJob, nodeMaintenance, rotateOidcClient, rotateOidcSecrets, sriovRollout/,
    ),
  });
  expect(await cli('start', 'drainNode', '--input', '{node')).toMatchObject({ code: 2, stderr: expect.stringMatching(/--input is not valid JSON/) });
  expect(await cli('frobnicate')).toMatchObject({ code: 2, stderr: expect.stringMatching(/unknown command "frobnicate"/) });
});

test('start (input from a file), then progress and list', async () => {
  const node = await cluster.addNode();
  await cluster.addPod(node, 'web-1');
  const inputFile = join(mkdtempSync(join(tmpdir(), 'cli-')), 'input.json');
  writeFileSync(inputFile, JSON.stringify({ node, dryRun: true }));

  const started = await cli('start', 'drainNode', '--input', `@${inputFile}`);
  expect(started.code).toBe(0);
  expect(started.stdout).toContain(`started drainNode drain-node-${node}`);
  const handle = client.workflow.getHandle(`drain-node-${node}`);
  expect(await handle.result()).toMatchObject({ outcome: 'planned', plan: { evict: [{ pod: `${cluster.namespace}/web-1` }] } });

  const progress = await cli('progress', `drain-node-${node}`);
  expect(progress.code).toBe(0);
  expect(progress.stdout).toMatch(/^drain-node drain-node-\S+: planned/);
  expect(progress.stdout).toMatch(/plan\s+done\s+\S+\s+1 to evict, 0 to delete, 0 terminating, 0 refused, 0 ignored/);
  expect(progress.stdout).toMatch(/cordon\s+pending/);

  const listed = await cli('list', '--query', `TaskQueue = '${taskQueue}'`);
  expect(listed.stdout).toMatch(new RegExp(`drain-node-${node}\\s+drainNode\\s+COMPLETED`));
});

test('plan prints, per node, the steps, hooks, gates and window of a dry run, and changes nothing', async () => {
  const nodes = [await cluster.addNode(), await cluster.addNode()];
  const input = {
    nodes,
    reason: 'Talos v1.11.5 upgrade',
    window: { days: ['sat'], start: '02:00', end: '05:00', timeZone: 'Europe/Berlin' },
    hooks: {
      beforeDrain: {
        namespace: cluster.namespace,
        job: { metadata: { name: 'ceph-noout' }, spec: { template: { spec: { containers: [{ name: 'c', image: 'registry.invalid/c:1' }] } } } },
      },
    },
  };
  const { code, stdout } = await cli('plan', 'nodeMaintenance', '--input', JSON.stringify(input));
  expect(code).toBe(0);
  const [first, second] = stdout.trim().split('\n\n');
  expect(first).toContain(`${nodes[0]}\n  1. window: start a node only inside sat 02:00-05:00 Europe/Berlin`);
  expect(first).toMatch(/3\. hook beforeDrain: Job ceph-noout in \S+ on the node/);
  expect(first).toMatch(/settle: 60s/);
  expect(second).not.toMatch(/settle/);
  for (const node of nodes) expect((await cluster.kube.core.readNode({ name: node })).spec?.unschedulable).toBeFalsy();
  expect((await cli('plan', 'bootstrapNode', '--input', JSON.stringify({ node: nodes[0] }))).stderr).toContain('bootstrapNode has no dry run');
});

test("send: an operator command prints the run's answer, or why the run refused it (exit 1)", async () => {
  const node = await cluster.addNode();
  const id = uniqueName('maint');
  const input = { cluster: uniqueName('lab'), nodes: [node], reason: 'fan swap', settleSeconds: 0, healthGate: { fluxNamespace: '' } };
  expect(await cli('start', 'nodeMaintenance', '--input', JSON.stringify(input), '--id', id)).toMatchObject({ code: 0 });
  const handle = client.workflow.getHandle(id);
  await eventually(
    async () => (await handle.query<Progress>('progress')).steps.find((s) => s.name === `node ${node}`)?.message?.startsWith('maintenance:'),
    'the node on hold',
  );
  expect(await cli('send', id, 'done', 'no-such-node')).toEqual({
    code: 1,
    stdout: '',
    stderr: `cluster-ops: ${id} refused done: done rejected: no-such-node is not in this run (${node})\n`,
  });
  expect(await cli('send', id, 'pause')).toMatchObject({ code: 0, stdout: 'paused: the run stops before its next step\n' });
  expect(await cli('send', id, 'pause')).toMatchObject({ code: 1, stderr: expect.stringContaining('pause rejected: already paused') });
  expect(await cli('send', id, 'approve')).toMatchObject({ code: 1, stderr: expect.stringContaining('No registered handler for update: approve') });
  expect(await cli('send', id, 'resume')).toMatchObject({ code: 0, stdout: 'resumed\n' });
  expect(await cli('send', id, 'done')).toMatchObject({ code: 0, stdout: `ending the maintenance of ${node}\n` });
  expect(await handle.result()).toMatchObject({ outcome: 'completed' });
  expect((await cluster.kube.core.readNode({ name: node })).spec?.unschedulable).toBeFalsy();
});

test('commands and progress for a run that does not exist say so', async () => {
  expect(await cli('send', 'no-such-run', 'pause')).toMatchObject({ code: 1, stderr: expect.stringMatching(/no such workflow: no-such-run/) });
  expect(await cli('progress', 'no-such-run')).toMatchObject({ code: 1, stderr: expect.stringMatching(/no such workflow: no-such-run/) });
});

test('an unreachable Temporal is explained', async () => {
  const result = await runCli(['list'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
  expect(result).toMatchObject({ code: 1, stderr: expect.stringMatching(/cannot reach Temporal at 127\.0\.0\.1:1/) });
});
