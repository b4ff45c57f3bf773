import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ApplicationFailure, Client, Connection, WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { simpleGit } from 'simple-git';
import { stringify } from 'yaml';
import { GITOPS_BRANCH, seedGitOpsRepo } from '../../lab/gitops.js';
import { RECONCILE_REQUESTED_AT } from '../../src/activities/flux/kustomizations.js';
import { GitOpsRepo } from '../../src/activities/gitops/repo.js';
import { isApiStatus } from '../../src/activities/kube/clients.js';
import { rollingLeaseName } from '../../src/activities/kube/lease.js';
import { CORDONED_BY_ANNOTATION } from '../../src/activities/kube/nodes.js';
import { FailureType } from '../../src/failures.js';
import { isWorkflowName, workflowCatalog } from '../../src/schemas/workflows.js';
import * as registered from '../../src/workflows/index.js';
import { cliCorpus, schedulesCorpus, tenMiBNcclInput, typedJson, workflowCorpus } from '../fixtures/bad-inputs.js';
import type { BadCliCall, BadInput, Category, CorpusTargets } from '../fixtures/bad-inputs.js';
import { runCli } from '../helpers/cli.js';
import { createSuspendedKustomization } from '../helpers/flux.js';
import { TEST_LEASE_NAMESPACE, testEnv } from '../helpers/env.js';
import { createTestClient, keycloakDeps, keycloakReady, secretsOf } from '../helpers/keycloak.js';
import { TestCluster, uniqueName } from '../helpers/kube.js';
import { devServerWorker, scheduleExists } from '../helpers/temporal.js';

// The bad-input corpus (test/fixtures/bad-inputs.ts) three ways: the built CLI, direct starts on a worker (as
// the Temporal UI or `temporal workflow start` would, past the CLI's checks), and `schedules apply`. Then
// the cluster share and the Keycloak client the corpus names must be as they were.
const prefix = uniqueName('bad-input');
const queues = { cli: `${prefix}-cli`, direct: `${prefix}-direct`, schedules: `${prefix}-schedules` };
const scratch = mkdtempSync(join(tmpdir(), 'bad-input-'));
const KUSTOMIZE = { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations' };
/** Spawned CLIs at once: short node processes, most of their time spent loading modules. */
const CLI_CONCURRENCY = 6;
/** Runs in flight on the one worker: each refuses in its first workflow task (or first activity). */
const RUNS_IN_FLIGHT = 16;
/** Each path's corpus, on a loaded machine. */
const PATH_TIMEOUT_MS = 300_000;

let cluster: TestCluster;
let targets: CorpusTargets;
let gitopsRepo: string;
let stopWorker: (() => Promise<void>) | undefined;
/** Starts the corpus runs: not the worker's client, so `npm run histories:record` does not keep them. */
let starter: Client;
let before: Awaited<ReturnType<typeof snapshot>>;

interface Tried {
  name: string;
  category: Category;
  clear: boolean;
  /** What came back instead, when it was not clear. */
  got?: string;
}
const figures: Record<string, Tried[]> = {};

beforeAll(async () => {
  cluster = await TestCluster.create('bad-input');
  const nodes: [string, string] = [await cluster.addNode(), await cluster.addNode()];
  const daemonSet = 'sriov-device-plugin';
  await cluster.addDaemonSet(nodes[0], daemonSet);
  // A dependsOn cycle a → b → c → a.
  for (const [name, dependsOn] of [
    ['a', 'b'],
    ['b', 'c'],
    ['c', 'a'],
  ] as const) {
    await createSuspendedKustomization(cluster.kube, cluster.namespace, name, [dependsOn]);
  }
  gitopsRepo = join(scratch, 'gitops.git');
  await Promise.all([seedGitOpsRepo(gitopsRepo), keycloakReady()]);
  const { clientId } = await createTestClient('bad-input');
  targets = { cluster: uniqueName('lab'), namespace: cluster.namespace, nodes, daemonSet, kustomization: 'a', clientId };
  const repo = new GitOpsRepo({
    url: gitopsRepo,
    baseBranch: GITOPS_BRANCH,
    checkoutDir: join(scratch, 'checkout'),
    author: { name: 't', email: 't@invalid' },
  });
  const worker = await devServerWorker(queues.direct, { kube: cluster.kube, keycloak: keycloakDeps(), gitops: { repo } });
  stopWorker = worker.stop;
  starter = new Client({ connection: await Connection.connect({ address: testEnv('temporalAddress') }) });
  before = await snapshot();
}, 240_000);

afterAll(async () => {
  await stopWorker?.();
  await starter?.connection.close();
  await cluster?.close();
});

/** What a bad input could have changed: the corpus's nodes, its cluster's Lease, the namespace, Git, Keycloak. */
async function snapshot() {
  const { core, batch, coordination, custom } = cluster.kube;
  const namespace = cluster.namespace;
  const names = (list: { items: { metadata?: { name?: string } }[] }) => list.items.map((item) => item.metadata!.name!).sort();
  const [nodes, lease, jobs, services, claims, kustomizations, gitHead, secrets] = await Promise.all([
    Promise.all(
      targets.nodes.map(async (name) => {
        const node = await core.readNode({ name });
        return {
          name,
          unschedulable: node.spec?.unschedulable ?? false,
          cordonedBy: node.metadata?.annotations?.[CORDONED_BY_ANNOTATION],
          pods: await cluster.podNames(name),
        };
      }),
    ),
    coordination.readNamespacedLease({ namespace: TEST_LEASE_NAMESPACE, name: rollingLeaseName(targets.cluster) }).then(
      (found) => `held by ${found.spec?.holderIdentity ?? 'nobody'}`,
      (error: unknown) => (isApiStatus(error, 404) ? 'none' : Promise.reject(error)),
    ),
    batch.listNamespacedJob({ namespace }).then(names),
    core.listNamespacedService({ namespace }).then(names),
    core.listNamespacedPersistentVolumeClaim({ namespace }).then(names),
    custom
      .listNamespacedCustomObject({ ...KUSTOMIZE, namespace })
      .then((list: { items: { metadata: { name: string; annotations?: Record<string, string> } }[] }) =>
        list.items.map(({ metadata }) => ({ name: metadata.name, reconcileRequested: metadata.annotations?.[RECONCILE_REQUESTED_AT] })),
      ),
    simpleGit(gitopsRepo).revparse([GITOPS_BRANCH]),
    secretsOf(targets.clientId),
  ]);
  return { nodes, lease, jobs, services, claims, kustomizations, gitHead, secrets };
}

async function mapConcurrently<T, R>(items: T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: limit }, lane));
  return results;
}

/** Prints and keeps the path's figure, by category, with every entry that was not clear. */
function report(path: string, tried: Tried[], extra = '') {
  figures[path] = tried;
  const categories = [...new Set(tried.map((t) => t.category))].map((category) => {
    const of = tried.filter((t) => t.category === category);
    return `${category} ${of.filter((t) => t.clear).length}/${of.length}`;
  });
  const unclear = tried.filter((t) => !t.clear).map((t) => `\n  NOT CLEAR ${t.name}: ${t.got}`);
  console.log(
    `bad inputs clear/tried: ${tried.filter((t) => t.clear).length}/${tried.length} (${path})\n  ${categories.join(', ')}${extra}${unclear.join('')}`,
  );
  return tried.filter((t) => !t.clear);
}

/** Writes the call's files into a folder of its own and runs it there (`@name` then reads them). */
async function runCliCall(call: BadCliCall, taskQueue: string) {
  const dir = mkdtempSync(join(scratch, 'call-'));
  for (const [name, text] of Object.entries(call.files ?? {})) writeFileSync(join(dir, name), text);
  return runCli(
    call.args.map((arg) => (arg.startsWith('@') ? `@${join(dir, arg.slice(1))}` : arg)),
    { TASK_QUEUE: taskQueue },
  );
}

/** A workflow entry as the CLI gets it: typed on the command line, or from a file when too long for one argument. */
function asCliCall(entry: BadInput): BadCliCall {
  const json = typedJson(entry.input);
  const inline = json.length < 64 * 1024;
  return {
    name: entry.name,
    workflow: entry.workflow as BadCliCall['workflow'],
    category: entry.category,
    args: ['start', entry.workflow, '--input', inline ? json : '@input.json'],
    files: inline ? undefined : { 'input.json': json },
    says: entry.says,
  };
}

async function runsOn(taskQueue: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const run of starter.workflow.list({ query: `TaskQueue = '${taskQueue}'` })) ids.push(run.workflowId);
  return ids;
}

test('the corpus covers every registered workflow, each catalog workflow through the CLI, and the schedules file', () => {
  const corpus = workflowCorpus(targets);
  expect([...new Set(corpus.map((e) => e.workflow))].sort()).toEqual(Object.keys(registered).sort());
  for (const workflow of Object.keys(registered)) {
    const categories = new Set(corpus.filter((e) => e.workflow === workflow).map((e) => e.category));
    for (const category of ['wrong type', 'missing or unknown field', 'out of range', 'injection', 'oversized', 'unknown target'] as const) {
      expect([workflow, categories.has(category)]).toEqual([workflow, true]);
    }
  }
  expect(corpus.some((e) => e.category === 'cycle')).toBe(true);
  const throughCli = new Set([
    ...corpus.filter((e) => !e.live && isWorkflowName(e.workflow)).map((e) => e.workflow),
    ...cliCorpus(targets).map((c) => c.workflow),
  ]);
  expect([...throughCli].sort()).toEqual(Object.keys(workflowCatalog).sort());
  expect(new Set(corpus.map((e) => e.name)).size).toBe(corpus.length);
});

test(
  'the CLI refuses each bad input before connecting: exit 2, the field named, nothing started',
  async () => {
    // Live entries name things only the cluster or Keycloak knows of; the CLI reads neither (see the direct runs).
    const calls = [
      ...workflowCorpus(targets)
        .filter((e) => !e.live && isWorkflowName(e.workflow))
        .map(asCliCall),
      ...cliCorpus(targets),
    ];
    const tried = await mapConcurrently(calls, CLI_CONCURRENCY, async (call): Promise<Tried> => {
      const { code, stdout, stderr } = await runCliCall(call, queues.cli);
      const clear = code === 2 && stderr.includes(call.says) && stdout === '';
      return { name: call.name, category: call.category, clear, got: `exit ${code}: ${stderr.trim() || stdout.trim()}` };
    });
    const started = await runsOn(queues.cli);
    const unclear = report('CLI', started.length ? tried.map((t) => ({ ...t, clear: false })) : tried, `; runs started: ${started.length}`);
    expect(unclear).toEqual([]);
  },
  PATH_TIMEOUT_MS,
);

/** The failure chain of a failed run: each ApplicationFailure's type, whether it is retryable, and all the messages. */
function failureOf(error: unknown) {
  const messages: string[] = [];
  let application: ApplicationFailure | undefined;
  for (let e = error as Error | undefined; e; e = (e as { cause?: Error }).cause) {
    messages.push(e.message);
    if (!application && e instanceof ApplicationFailure) application = e;
  }
  return { type: application?.type, nonRetryable: application?.nonRetryable === true, text: messages.join('\n') };
}

test(
  'a run started directly fails at once, non-retryable, naming the field, having only read',
  async () => {
    const corpus = workflowCorpus(targets);
    const tried = await mapConcurrently(corpus, RUNS_IN_FLIGHT, async (entry, i): Promise<Tried & { ms: number }> => {
      const started = Date.now();
      const handle = await starter.workflow.start(entry.workflow, {
        taskQueue: queues.direct,
        workflowId: `${prefix}-${i}`,
        args: [entry.input],
        // A run that does not refuse at once must not linger, doing what the corpus means to prevent.
        workflowRunTimeout: '2 minutes',
      });
      const error = await handle.result().then(
        () => undefined,
        (failure: unknown) => failure,
      );
      const ms = Date.now() - started;
      const events = (await handle.fetchHistory()).events ?? [];
      const activities = events.flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType!.name!] : []));
      const children = events.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes).length;
      const failure = failureOf(error);
      const expected = entry.live ?? { activities: [], type: FailureType.InvalidInput };
      const clear =
        error instanceof WorkflowFailedError &&
        failure.nonRetryable &&
        failure.type === expected.type &&
        failure.text.includes(entry.says) &&
        JSON.stringify(activities) === JSON.stringify(expected.activities) &&
        children === 0;
      const got = `${failure.type ?? 'no failure'} (${failure.nonRetryable ? 'non-retryable' : 'retryable'}), activities [${activities.join(', ')}], ${children} children: ${failure.text}`;
      return { name: entry.name, category: entry.category, clear, got, ms };
    });

    // Over Temporal's own 2 MB limit: the server refuses the start itself, so no run exists to fail.
    const tenMiBId = `${prefix}-10mib`;
    const refusal = await starter.workflow.start('ncclJob', { taskQueue: queues.direct, workflowId: tenMiBId, args: [tenMiBNcclInput(targets)] }).then(
      () => 'started',
      (error: unknown) => failureOf(error).text,
    );
    const exists = await starter.workflow
      .getHandle(tenMiBId)
      .describe()
      .then(
        () => true,
        (error: unknown) => (error instanceof WorkflowNotFoundError ? false : Promise.reject(error)),
      );
    tried.push({
      name: 'ncclJob: 10 MiB, refused by the server at start',
      category: 'oversized',
      clear: /size|exceed|larger/i.test(refusal) && !exists,
      got: `${refusal}; run exists: ${exists}`,
      ms: 0,
    });

    const slowest = Math.max(...tried.map((t) => t.ms));
    const unclear = report('direct start', tried, `; the slowest refusal came ${(slowest / 1000).toFixed(1)}s after its start`);
    expect(unclear).toEqual([]);
  },
  PATH_TIMEOUT_MS,
);

test(
  'schedules apply refuses each bad file whole, naming the entry and field, and creates no schedule',
  async () => {
    const badId = `${prefix}-bad`;
    const files = schedulesCorpus(targets, badId);
    const tried = await mapConcurrently(files, CLI_CONCURRENCY, async (bad, i): Promise<Tried> => {
      const good = { id: `${prefix}-good-${i}`, workflow: 'drainNode', input: { node: targets.nodes[0], dryRun: true }, every: '1d', paused: true };
      const path = join(scratch, `schedules-${i}`, 'schedules.yaml');
      mkdirSync(dirname(path));
      for (const [name, text] of Object.entries(bad.files ?? {})) writeFileSync(join(dirname(path), name), text);
      writeFileSync(path, 'text' in bad.entries ? bad.entries.text : stringify({ schedules: [good, ...bad.entries] }));
      const { code, stdout, stderr } = await runCli(['schedules', 'apply', '--file', path], { TASK_QUEUE: queues.schedules });
      const created = (await scheduleExists(starter, good.id)) || (await scheduleExists(starter, badId));
      const clear = code === 2 && stderr.includes(bad.says) && stdout === '' && !created;
      return { name: bad.name, category: bad.category, clear, got: `exit ${code}, schedule created: ${created}: ${stderr.trim() || stdout.trim()}` };
    });
    expect(report('schedules file', tried)).toEqual([]);
  },
  PATH_TIMEOUT_MS,
);

test('afterwards the cluster, Git and Keycloak are as they were: no cordon, Lease, Job, reconcile request, commit or new secret', async () => {
  expect(await snapshot()).toEqual(before);
  const all = Object.values(figures).flat();
  console.log(`bad inputs clear/tried: ${all.filter((t) => t.clear).length}/${all.length} (all paths; cluster, Git and Keycloak unchanged)`);
});
