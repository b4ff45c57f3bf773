import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowFailedError, WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { simpleGit } from 'simple-git';
import { parse, stringify } from 'yaml';
import { GITOPS_BRANCH, GITOPS_SEED, INVENTORY_PATH, startLabGitOps, TEST_GROUP_LABEL } from '../../lab/gitops.js';
import type { LabGitOps } from '../../lab/gitops.js';
import { registerJoiningNode, startKubelet, WILLINGHAM_NODES } from '../../lab/kube/nodes.js';
import { GitOpsRepo } from '../../src/activities/gitops/repo.js';
import type { Progress } from '../../src/schemas/progress.js';
import { bootstrapNode } from '../../src/workflows/bootstrap-node.js';
import { testGitServing } from '../helpers/gitops.js';
import { eventually, TestCluster, uniqueName } from '../helpers/kube.js';
import { rejectionOf, timeSkippingEnvironment, withWorker } from '../helpers/temporal.js';
import { FailureType } from '../../src/failures.js';

let env: TestWorkflowEnvironment;
let cluster: TestCluster;
let lab: LabGitOps;
let dir: string;
const spark = uniqueName('talos-spark');
const misfiled = uniqueName('talos-misfiled');
/** In the inventory, but never registers. */
const absent = uniqueName('talos-absent');

/** The seed inventory, moved into this test's namespace, with this test's node names added. */
async function publishInventory() {
  const seed = parse(readFileSync(join(GITOPS_SEED(), INVENTORY_PATH), 'utf8')) as {
    classes: Record<string, { daemonSets: string[]; labels: Record<string, string> }>;
    nodes: Record<string, string>;
  };
  for (const nodeClass of Object.values(seed.classes)) {
    nodeClass.daemonSets = nodeClass.daemonSets.map((ds) => ds.replace('kube-system/', `${cluster.namespace}/`));
  }
  seed.nodes = { [spark]: 'dgx-spark', [misfiled]: 'ryzen', [absent]: 'dgx-spark' };
  const work = mkdtempSync(join(tmpdir(), 'inventory-'));
  const git = simpleGit();
  await git.clone(lab.bareRepo, work);
  writeFileSync(join(work, INVENTORY_PATH), stringify(seed));
  const repo = simpleGit(work);
  await repo.addConfig('user.name', 'test').addConfig('user.email', 'test@invalid');
  await repo.add(INVENTORY_PATH).commit('inventory for the test nodes');
  await repo.push('origin', `HEAD:${GITOPS_BRANCH}`);
  rmSync(work, { recursive: true, force: true });
}

beforeAll(async () => {
  [env, cluster] = await Promise.all([timeSkippingEnvironment(), TestCluster.create('bootstrap-node')]);
  dir = mkdtempSync(join(tmpdir(), 'bootstrap-node-'));
  lab = await startLabGitOps(cluster.kube.config, testGitServing(), { name: cluster.namespace, placement: { namespace: cluster.namespace } });
  await publishInventory();
  // A node joins a cluster Flux has already brought up: the real controllers apply namespaces → crds →
  // base, which holds the node agents' DaemonSets.
  await eventually(
    () =>
      cluster.kube.apps.readNamespacedDaemonSet({ namespace: cluster.namespace, name: 'kube-multus-ds' }).then(
        () => true,
        () => false,
      ),
    'Flux to apply the base layer',
    90_000,
  );
}, 120_000);
afterAll(async () => {
  await lab?.stop();
  await Promise.all([env?.teardown(), cluster?.close()]);
});

function run(node: string, drive: (progress: () => Promise<Progress>, handle: WorkflowHandle) => Promise<void>) {
  const gitops = {
    repo: new GitOpsRepo({
      url: lab.bareRepo,
      baseBranch: GITOPS_BRANCH,
      checkoutDir: join(dir, uniqueName('checkout')),
      author: { name: 't', email: 't@invalid' },
    }),
  };
  return withWorker(env, { kube: cluster.kube, gitops }, async (taskQueue) => {
    const handle = await env.client.workflow.start(bootstrapNode, {
      taskQueue,
      workflowId: uniqueName('bootstrap-node'),
      args: [{ node, readyTimeoutSeconds: 120, agentTimeoutSeconds: 60 }],
    });
    await drive(() => handle.query<Progress>('progress'), handle);
    const result = await handle.result().then(
      (value) => ({ value, error: undefined }),
      (error: unknown) => ({ value: undefined, error }),
    );
    return { ...result, progress: await handle.query<Progress>('progress') };
  });
}

const group = () => ({ [TEST_GROUP_LABEL]: cluster.namespace });

test('a DGX node joins not Ready; it is brought into service only after Ready, its agents in order, and 4 VFs', async () => {
  const { value, progress } = await run(spark, async (progress) => {
    await eventually(async () => (await progress()).phase === 'ready', 'waiting for the node to register');
    // Registered, but no kubelet reports for it yet: not Ready.
    await registerJoiningNode(cluster.kube.core, { ...WILLINGHAM_NODES[1]!, name: spark, labels: { ...WILLINGHAM_NODES[1]!.labels, ...group() } });
    cluster.nodes.push(spark);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await progress()).phase).toBe('ready');
    await startKubelet(cluster.kube.core, spark);
  });
  expect(value).toMatchObject({ node: spark, nodeClass: 'dgx-spark', uncordoned: true, allocatable: { 'nvidia.com/cx7_qsfp': '4' } });
  expect(progress.steps.map((s) => [s.name.replace(`${cluster.namespace}/`, ''), s.phase])).toEqual([
    ['inventory', 'done'],
    ['ready', 'done'],
    ['cordon', 'done'],
    ['labels', 'done'],
    ['agent cilium', 'done'],
    ['agent nvidia-device-plugin', 'done'],
    ['agent sriov-device-plugin', 'done'],
    ['agent kube-multus-ds', 'done'],
    ['allocatable', 'done'],
    ['uncordon', 'done'],
  ]);
  // Agents came up in inventory order.
  const agents = progress.steps.filter((s) => s.name.startsWith('agent '));
  for (let i = 1; i < agents.length; i++) expect(agents[i]!.startedAt! >= agents[i - 1]!.finishedAt!).toBe(true);
  expect((await cluster.kube.core.readNode({ name: spark })).spec?.unschedulable).toBeFalsy();
});

test('a node that does not match its inventory class stays cordoned, and the run says why', async () => {
  await cluster.addNode(undefined, group(), { name: misfiled });
  const { error } = await run(misfiled, async () => undefined);
  const failure = (error as WorkflowFailedError).cause as { type?: string; message: string };
  expect(failure.type).toBe(FailureType.BootstrapNodeFailed);
  expect(failure.message).toContain('arch is arm64, inventory says amd64');
  expect((await cluster.kube.core.readNode({ name: misfiled })).spec?.unschedulable).toBe(true);
});

test('pause holds the next step, abort stops the wait in progress: the run ends aborted, no later step runs', async () => {
  const { value, progress } = await run(absent, async (progress, handle) => {
    await eventually(async () => (await progress()).phase === 'ready', 'waiting for the node to register');
    expect(await rejectionOf(handle, 'resume')).toBe('resume rejected: not paused');
    expect(await handle.executeUpdate<string, []>('pause')).toBe('paused: the run stops before its next step');
    expect(await rejectionOf(handle, 'pause')).toBe('pause rejected: already paused');
    expect((await progress()).paused).toBe(true);
    expect(await handle.executeUpdate<string, [string]>('abort', { args: ['node never came'] })).toBe('aborting: node never came');
  });
  expect(value).toMatchObject({ node: absent, outcome: 'aborted', uncordoned: false });
  expect(progress.steps.map((s) => [s.name.replace(`${cluster.namespace}/`, ''), s.phase])).toEqual([
    ['inventory', 'done'],
    ...[
      'ready',
      'cordon',
      'labels',
      'agent cilium',
      'agent nvidia-device-plugin',
      'agent sriov-device-plugin',
      'agent kube-multus-ds',
      'allocatable',
      'uncordon',
    ].map((name) => [name, 'skipped']),
  ]);
});
