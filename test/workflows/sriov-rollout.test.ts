import { WorkflowClient, WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { simpleGit } from 'simple-git';
import { SIM_VF_LIMIT_LABEL } from '../../lab/sim/sriov-device-plugin.js';
import { GITOPS_BRANCH, SRIOV_CONFIG_PATH } from '../../lab/gitops.js';
import { readVfConfig } from '../../src/domain/sriov-config.js';
import type { Progress } from '../../src/schemas/progress.js';
import { sriovRolloutId } from '../../src/schemas/sriov-rollout.js';
import type { SriovRolloutInput } from '../../src/schemas/sriov-rollout.js';
import { sriovRollout } from '../../src/workflows/sriov-rollout.js';
import type { SriovRolloutResult } from '../../src/workflows/sriov-rollout.js';
import { allocatableVfs, startTestGitOps } from '../helpers/gitops.js';
import type { TestGitOps } from '../helpers/gitops.js';
import { eventually, TestCluster } from '../helpers/kube.js';
import { commandsReady, rejectionOf, timeSkippingEnvironment, withWorker } from '../helpers/temporal.js';
import { FailureType } from '../../src/failures.js';

let env: TestWorkflowEnvironment;
let cluster: TestCluster;
let gitops: TestGitOps;

beforeAll(async () => {
  [env, cluster] = await Promise.all([timeSkippingEnvironment(), TestCluster.create('rollout')]);
  gitops = await startTestGitOps(cluster);
}, 120_000);
afterAll(async () => {
  await gitops?.stop();
  await Promise.all([env?.teardown(), cluster?.close()]);
});

type Run = { handle: WorkflowHandle<typeof sriovRollout>; input: ReturnType<TestGitOps['rolloutInput']> };

/** Starts a rollout under a worker and hands it to `drive`; returns the outcome and final progress. */
function rollout(overrides: Partial<SriovRolloutInput>, drive: (run: Run) => Promise<void> = async () => undefined) {
  const input = gitops.rolloutInput(overrides);
  return withWorker(env, { kube: cluster.kube, gitops: gitops.deps }, async (taskQueue) => {
    const handle = await env.client.workflow.start(sriovRollout, { taskQueue, workflowId: sriovRolloutId(input.cluster), args: [input] });
    await drive({ handle, input });
    const outcome: { result?: SriovRolloutResult; error?: unknown } = await handle.result().then(
      (result) => ({ result }),
      (error: unknown) => ({ error }),
    );
    const progress = await handle.query<Progress>('progress').catch(() => undefined);
    return { ...outcome, progress };
  });
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const progressOf = (handle: WorkflowHandle) => handle.query<Progress>('progress');
const unschedulable = async (node: string) => (await cluster.kube.core.readNode({ name: node })).spec?.unschedulable === true;
async function repoVfs() {
  return readVfConfig(await simpleGit(gitops.lab.bareRepo).show([`${GITOPS_BRANCH}:${SRIOV_CONFIG_PATH}`]));
}
const failureOf = (error: unknown) => (error as WorkflowFailedError).cause as { type?: string; message: string };

test('dry run returns the plan and changes nothing', async () => {
  const { result } = await rollout({ numVfs: 8, dryRun: true });
  expect(result).toMatchObject({
    outcome: 'planned',
    plan: { nodes: gitops.dgxNodes, from: { numVfs: 4, mtu: 9000 }, to: { numVfs: 8, mtu: 9000 }, maxUnavailable: 1 },
  });
  expect(await repoVfs()).toEqual({ numVfs: 4, mtu: 9000 });
  expect(gitops.lab.github.pulls).toHaveLength(0);
});

test('happy path: pull request merged, Flux applied, both nodes reconfigured one at a time and uncordoned', async () => {
  const { result, progress } = await rollout({ numVfs: 8 });
  expect(result?.outcome).toBe('completed');
  expect(result?.nodes.map((n) => [n.node, n.status])).toEqual(gitops.dgxNodes.map((n) => [n, 'changed']));
  expect(gitops.lab.github.pulls.at(-1)).toMatchObject({ merged: true, title: expect.stringContaining('8 VFs') });
  expect(await repoVfs()).toEqual({ numVfs: 8, mtu: 9000 });
  for (const node of gitops.dgxNodes) {
    expect(await allocatableVfs(cluster, node)).toBe('8');
    expect(await unschedulable(node)).toBe(false);
  }
  expect(progress?.steps.filter((s) => s.name.startsWith('node ')).map((s) => s.phase)).toEqual(['done', 'done']);
});

const nextVfs = async () => ((await repoVfs()).numVfs === 8 ? 4 : 8);
const nodeStep = (progress: Progress, node: string) => progress.steps.find((s) => s.name === `node ${node}`);

/** A pod on `node` that a PodDisruptionBudget never lets go. */
async function blockDrainOf(node: string) {
  await cluster.addPod(node, 'trainer', { app: 'trainer' });
  await cluster.addBlockingPdb('trainer');
}

/** Puts both nodes back as a later test expects them: schedulable, nothing blocking, no VF cap. */
async function resetNodes() {
  await cluster.kube.policy.deleteNamespacedPodDisruptionBudget({ name: 'trainer', namespace: cluster.namespace }).catch(() => undefined);
  await cluster.kube.core.deleteNamespacedPod({ name: 'trainer', namespace: cluster.namespace, gracePeriodSeconds: 0 }).catch(() => undefined);
  for (const name of gitops.dgxNodes) {
    await cluster.kube.core.patchNode(
      {
        name,
        body: {
          spec: { unschedulable: null },
          metadata: { labels: { [SIM_VF_LIMIT_LABEL]: null }, annotations: { 'cluster-ops.wcloud.sh/cordoned-by': null } },
        },
      },
      mergePatch,
    );
  }
}

test('one rollout per cluster: a second start is refused, and so is a start under another id; rollback and malformed commands are refused', async () => {
  const prsBefore = gitops.lab.github.pulls.length;
  const { result } = await rollout({ numVfs: 8, approval: 'once' }, async ({ handle, input }) => {
    await commandsReady(handle);
    await eventually(async () => (await progressOf(handle)).phase.startsWith('awaiting approval'), 'approval gate');
    await expect(env.client.workflow.start(sriovRollout, { taskQueue: 'unused', workflowId: handle.workflowId, args: [input] })).rejects.toBeInstanceOf(
      WorkflowExecutionAlreadyStartedError,
    );
    // A plain client: the time-skipping one would let the server's clock run while the first run idles.
    const other = await withWorker(env, { kube: cluster.kube, gitops: gitops.deps }, (taskQueue) =>
      new WorkflowClient({ connection: env.connection, namespace: env.namespace })
        .execute(sriovRollout, { taskQueue, workflowId: 'my-own-id', args: [input] })
        .catch((e: unknown) => e),
    );
    expect(failureOf(other)).toMatchObject({ type: FailureType.ClusterBusy, message: expect.stringContaining(`sriov-rollout ${handle.workflowId} (run `) });
    expect(await rejectionOf(handle, 'rollback', { not: 'a reason' })).toBe('rollback rejected: the reason must be a string');
    expect(await rejectionOf(handle, 'abort', 42)).toBe('abort rejected: the reason must be a string');
    expect(await handle.executeUpdate<string, []>('pause')).toBe('paused: the run stops before its next step');
    expect(await rejectionOf(handle, 'pause')).toBe('pause rejected: already paused');
    expect(await handle.executeUpdate<string, []>('resume')).toBe('resumed');
    expect(await handle.executeUpdate<string, [string]>('abort', { args: ['test done'] })).toBe('aborting: test done');
    // The run ends as soon as it sees the abort; a command that arrives before that is refused.
    const afterAbort = (command: string) =>
      rejectionOf(handle, command).catch((error: Error) => (/not found/.test(error.message) ? 'run closed' : Promise.reject(error)));
    expect(['abort rejected: already aborting (test done)', 'run closed']).toContain(await afterAbort('abort'));
    expect(['rollback rejected: the run is aborting (test done): nothing will be rolled back', 'run closed']).toContain(await afterAbort('rollback'));
  });
  expect(result?.outcome).toBe('aborted');
  expect(gitops.lab.github.pulls).toHaveLength(prsBefore);
});

test('pause holds the rollout before the next node (an approval then has nothing to approve), resume releases it, approval gates each node', async () => {
  const numVfs = await nextVfs();
  const [first, second] = gitops.dgxNodes as [string, string];
  // No settle time: this test polls progress, and polling does not skip time the way awaiting a result does.
  const { result } = await rollout({ numVfs, approval: 'each-node', settleSeconds: 0 }, async ({ handle }) => {
    await handle.signal('pause');
    await eventually(async () => (await progressOf(handle)).steps.find((s) => s.name === 'flux')?.phase === 'done', 'config applied by Flux');
    const paused = await progressOf(handle);
    expect(paused.paused).toBe(true);
    expect(nodeStep(paused, first)?.phase).toBe('pending');
    // Held by the pause, before the first node's gate: an approval now has nothing to approve.
    expect(await rejectionOf(handle, 'approve')).toMatch(/^approve rejected: nothing is waiting for approval/);
    await handle.signal('resume');
    await eventually(async () => (await progressOf(handle)).phase === `awaiting approval: node ${first}`, 'approval for the first node');
    expect(await unschedulable(first)).toBe(false);
    await handle.signal('approve');
    await eventually(async () => (await progressOf(handle)).phase === `awaiting approval: node ${second}`, 'approval for the second node');
    expect(nodeStep(await progressOf(handle), first)?.phase).toBe('done');
    expect(await allocatableVfs(cluster, first)).toBe(String(numVfs));
    expect(await allocatableVfs(cluster, second)).not.toBe(String(numVfs));
    await handle.signal('approve');
  });
  expect(result?.outcome).toBe('completed');
  expect(await allocatableVfs(cluster, second)).toBe(String(numVfs));
});

test('abort mid-drain stops at once: that node stays cordoned, the next is never touched', async () => {
  const [first, second] = gitops.dgxNodes as [string, string];
  await blockDrainOf(first);
  const before = await allocatableVfs(cluster, second);
  let drainStatus = '';
  const { result } = await rollout({ numVfs: await nextVfs(), node: { drainTimeoutSeconds: 3600 } }, async ({ handle }) => {
    const drain = env.client.workflow.getHandle(`${handle.workflowId}/${first}/drain`);
    // Aborted between two drain passes, so the abort always meets the same step. An abort that meets a pass
    // in flight stops it before the run ends (drain-node.test.ts); before it did, the pass completed into no
    // run, and the time-skipping test server stopped skipping time for the rest of the file.
    await eventually(
      async () =>
        nodeStep(await progressOf(handle), first)?.message?.startsWith('drain:') &&
        (await unschedulable(first)) &&
        (await drain.describe()).raw.pendingActivities?.length === 0,
      'drain of the first node, between passes',
    );
    await handle.signal('abort', 'operator changed their mind');
    await handle.result();
    drainStatus = (await drain.describe()).status.name;
  });
  expect(drainStatus).toBe('CANCELLED');
  expect(result?.outcome).toBe('aborted');
  expect(result?.nodes).toEqual([
    expect.objectContaining({ node: first, status: 'aborted', leftCordoned: true }),
    expect.objectContaining({ node: second, status: 'not-started', leftCordoned: false }),
  ]);
  expect(await unschedulable(first)).toBe(true);
  expect(await unschedulable(second)).toBe(false);
  expect(await allocatableVfs(cluster, second)).toBe(before);
  await resetNodes();
});

test('a PodDisruptionBudget that blocks eviction past the deadline stops the run; the node stays cordoned', async () => {
  const [first, second] = gitops.dgxNodes as [string, string];
  await blockDrainOf(first);
  const { error } = await rollout({ numVfs: await nextVfs(), node: { drainTimeoutSeconds: 20 } });
  const failure = failureOf(error);
  expect(failure.type).toBe(FailureType.RolloutStopped);
  expect(failure.message).toContain(`${first}: failed`);
  expect(failure.message).toContain(`${cluster.namespace}/trainer: HTTP 429`);
  expect(failure.message).toContain(`${second}: not-started`);
  expect(await unschedulable(first)).toBe(true);
  expect(await unschedulable(second)).toBe(false);
  await resetNodes();
});

test('a node failing verification stops the run, stays cordoned, and later nodes are untouched', async () => {
  const [first, second] = gitops.dgxNodes as [string, string];
  await cluster.kube.core.patchNode({ name: first, body: { metadata: { labels: { [SIM_VF_LIMIT_LABEL]: '8' } } } }, mergePatch);
  const before = await allocatableVfs(cluster, second);
  const { error } = await rollout({ numVfs: 16, node: { verifyTimeoutSeconds: 5 } });
  const failure = failureOf(error);
  expect(failure.type).toBe(FailureType.RolloutStopped);
  expect(failure.message).toMatch(new RegExp(`${first}: failed \\(.*stays cordoned.*cx7_qsfp is 8, want 16`));
  expect(await unschedulable(first)).toBe(true);
  expect(await unschedulable(second)).toBe(false);
  expect(await allocatableVfs(cluster, second)).toBe(before);
  expect((await repoVfs()).numVfs).toBe(16);
  await resetNodes();
});

// Two rollouts, one with a rollback: longer than the default test timeout on a busy 2-core machine.
test('rollback on failure reverts the Git change and rolls the changed nodes back the same safe way', async () => {
  const [first] = gitops.dgxNodes as [string, string];
  // The previous test left Git at 16 VFs: first bring everything back to a known 4.
  expect((await rollout({ numVfs: 4 })).result?.outcome).toBe('completed');
  await cluster.kube.core.patchNode({ name: first, body: { metadata: { labels: { [SIM_VF_LIMIT_LABEL]: '8' } } } }, mergePatch);
  const { result } = await rollout({ numVfs: 16, rollbackOnFailure: true, node: { verifyTimeoutSeconds: 5 } });
  expect(result?.outcome).toBe('rolled-back');
  expect(result?.nodes[0]).toMatchObject({ node: first, status: 'rolled-back', leftCordoned: false });
  expect(await repoVfs()).toEqual({ numVfs: 4, mtu: 9000 });
  expect(gitops.lab.github.pulls.at(-1)).toMatchObject({ merged: true, title: expect.stringContaining('Revert SR-IOV to 4 VFs') });
  expect(await allocatableVfs(cluster, first)).toBe('4');
  for (const node of gitops.dgxNodes) expect(await unschedulable(node)).toBe(false);
  await resetNodes();
}, 300_000);
