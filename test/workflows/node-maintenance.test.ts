import type { WorkflowHandle } from '@temporalio/client';
import { WorkflowClient, WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { ADMIN_CORDON } from '../../src/activities/kube/nodes.js';
import { WEEKDAYS } from '../../src/domain/maintenance-window.js';
import type { Progress } from '../../src/schemas/progress.js';
import { nodeMaintenanceId } from '../../src/schemas/node-maintenance.js';
import type { NodeMaintenanceInput } from '../../src/schemas/node-maintenance.js';
import { nodeMaintenance } from '../../src/workflows/node-maintenance.js';
import { sriovRollout } from '../../src/workflows/sriov-rollout.js';
import { sriovRolloutId } from '../../src/schemas/sriov-rollout.js';
import type { NodeMaintenanceResult } from '../../src/workflows/node-maintenance.js';
import { brokenManifest, createSuspendedKustomization, startFluxRepoWorld } from '../helpers/flux.js';
import { eventually, TestCluster, uniqueName } from '../helpers/kube.js';
import {
  commandsReady,
  currentDetails,
  rejectionOf,
  timeSkippingEnvironment,
  timelineSummaries,
  withWorker,
  workflowTaskFailures,
} from '../helpers/temporal.js';
import { FailureType } from '../../src/failures.js';
import { rollingLeaseName } from '../../src/activities/kube/lease.js';
import { TEST_LEASE_NAMESPACE } from '../helpers/env.js';
import { runTreeHistories } from '../helpers/histories.js';

let env: TestWorkflowEnvironment;
let cluster: TestCluster;

beforeAll(async () => {
  [env, cluster] = await Promise.all([timeSkippingEnvironment(), TestCluster.create('maint')]);
}, 120_000);
afterAll(() => Promise.all([env?.teardown(), cluster?.close()]));

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const progressOf = (handle: WorkflowHandle) => handle.query<Progress>('progress');
const unschedulable = async (node: string) => (await cluster.kube.core.readNode({ name: node })).spec?.unschedulable === true;
const failureOf = (error: unknown) => (error as WorkflowFailedError).cause as { type?: string; message: string; details?: unknown[] };

type Input = Partial<NodeMaintenanceInput> & { nodes: string[] };

/** Runs a maintenance over `nodes` under a worker; `drive` acts while it runs. Returns outcome and progress. */
function maintain(
  overrides: Input,
  drive: (handle: WorkflowHandle<typeof nodeMaintenance>, run: { cluster: string; taskQueue: string }) => Promise<void> = async () => undefined,
) {
  const cluster_ = uniqueName('lab');
  const input: NodeMaintenanceInput = {
    cluster: cluster_,
    reason: 'Talos upgrade',
    until: 'duration',
    durationSeconds: 60,
    settleSeconds: 0,
    healthGate: { fluxNamespace: '' },
    ...overrides,
  };
  return withWorker(env, { kube: cluster.kube }, async (taskQueue) => {
    const handle = await env.client.workflow.start(nodeMaintenance, { taskQueue, workflowId: nodeMaintenanceId(cluster_), args: [input] });
    await drive(handle, { cluster: cluster_, taskQueue });
    const outcome: { result?: NodeMaintenanceResult; error?: unknown } = await handle.result().then(
      (result) => ({ result }),
      (error: unknown) => ({ error }),
    );
    const progress = await progressOf(handle).catch(() => undefined);
    return { ...outcome, progress, handle };
  });
}

/** A hook Job template; `failWith` makes KWOK fail its pod with that termination message (the log tail). */
const hookJob = (failWith?: string) => ({
  namespace: cluster.namespace,
  timeoutSeconds: 120,
  job: {
    metadata: { name: 'pre-drain-check' },
    spec: {
      template: {
        metadata: failWith
          ? {
              labels: { 'pod-container-running-failed.stage.kwok.x-k8s.io': 'true' },
              annotations: { 'pod-container-running-failed.stage.kwok.x-k8s.io/message': failWith },
            }
          : {},
        spec: { containers: [{ name: 'check', image: 'registry.invalid/node-check:1' }] },
      },
    },
  },
});

test('maintenance waits for done on each node, then verifies and uncordons it; done is refused where it does not apply', async () => {
  const nodes = [await cluster.addNode(), await cluster.addNode()];
  const [first, second] = nodes as [string, string];
  const { result, progress, handle } = await maintain({ nodes, until: 'done-signal' }, async (handle) => {
    // Before any node is on hold: an early done must not pre-arm a node (its hold would end right after the drain).
    await commandsReady(handle);
    expect(await rejectionOf(handle, 'done')).toBe('done rejected: no node is on hold now');
    await eventually(
      async () => (await progressOf(handle)).steps.find((s) => s.name === `node ${first}`)?.message?.startsWith('maintenance: Talos upgrade: drained'),
      `${first} in maintenance`,
    );
    expect(await unschedulable(first)).toBe(true);
    // The Temporal UI's current details say which node, which step, and what the run waits for.
    const firstOnHold = await currentDetails(handle);
    expect(firstOnHold).toMatch(new RegExp(`^\\*\\*now:\\*\\* node ${first}\\n`));
    expect(firstOnHold).toContain(`- **node ${first}**: running — maintenance: Talos upgrade: drained; send done when finished`);
    expect(firstOnHold).toContain(`- node ${second}: pending`);
    expect(await rejectionOf(handle, 'done', 'no-such-node')).toBe(`done rejected: no-such-node is not in this run (${first}, ${second})`);
    expect(await rejectionOf(handle, 'done', second)).toBe(`done rejected: ${second} is not on hold now`);
    expect(await rejectionOf(handle, 'done', 42)).toBe('done rejected: the node must be a name');
    expect(await rejectionOf(handle, 'resume')).toBe('resume rejected: not paused');
    // The Temporal UI's signal of the same command: a bad one is dropped, the run goes on.
    await handle.signal('done', 'no-such-node');
    expect(await handle.executeUpdate<string, [string]>('done', { args: [first] })).toBe(`ending the maintenance of ${first}`);
    expect(await rejectionOf(handle, 'done', first)).toBe(`done rejected: done was already sent for ${first}`);
    await eventually(
      async () => (await progressOf(handle)).steps.find((s) => s.name === `node ${second}`)?.message?.startsWith('maintenance: Talos upgrade: drained'),
      `${second} in maintenance`,
    );
    const secondOnHold = await currentDetails(handle);
    expect(secondOnHold).toMatch(new RegExp(`^\\*\\*now:\\*\\* node ${second}\\n`));
    expect(secondOnHold).toMatch(new RegExp(`- node ${first}: done — maintained for \\d+s, uncordoned`));
    expect(secondOnHold).toContain(`- **node ${second}**: running — maintenance: Talos upgrade: drained; send done when finished`);
    expect(await handle.executeUpdate<string, []>('done')).toBe(`ending the maintenance of ${second}`);
  });
  // Each node's child and its drain carry their own summary; their timelines read like the runbook.
  const child = env.client.workflow.getHandle(`${handle.workflowId}/${first}`);
  expect(await (await child.describe()).staticSummary()).toBe(`maintenance of ${first} (Talos upgrade)`);
  expect(await (await env.client.workflow.getHandle(`${handle.workflowId}/${first}/drain`).describe()).staticSummary()).toBe(`drain ${first}`);
  expect((await timelineSummaries(child)).activities).toEqual([
    `wait for ${first} Ready=True`,
    `record the identity of ${first}`,
    `check ${first} is the same node`,
    `check ${first} is the same node`,
    `check ${first} is the same node`,
    `wait for ${first} Ready=True`,
    `check ${first} is the same node`,
    `check ${first} is the same node`,
    `uncordon ${first}`,
  ]);
  const parentActivities = (await timelineSummaries(handle)).activities;
  expect(parentActivities[0]).toBe(`check that 2 input target(s) exist`);
  expect(parentActivities[1]).toMatch(/^take the rolling lock of lab-\S+ for node-maintenance$/);
  expect(parentActivities.at(-1)).toMatch(/^release the rolling lock of lab-\S+$/);
  expect(await workflowTaskFailures(handle)).toBe(0);
  expect(result?.outcome).toBe('completed');
  expect(result?.nodes.map((n) => [n.node, n.status, n.leftCordoned])).toEqual(nodes.map((n) => [n, 'maintained', false]));
  for (const node of nodes) expect(await unschedulable(node)).toBe(false);
  expect(progress?.steps.filter((s) => s.name.startsWith('node ')).map((s) => s.phase)).toEqual(['done', 'done']);
});

test("an admin's cordon is kept: that node stays cordoned and the report says who; the other is uncordoned", async () => {
  const [adminCordoned, other] = [await cluster.addNode(), await cluster.addNode()];
  await cluster.kube.core.patchNode({ name: adminCordoned, body: { spec: { unschedulable: true } } }, mergePatch);
  const { result } = await maintain({ nodes: [adminCordoned, other] });
  expect(result?.outcome).toBe('completed');
  expect(result?.nodes).toEqual([
    expect.objectContaining({ node: adminCordoned, leftCordoned: true, cordonedBefore: ADMIN_CORDON, message: expect.stringContaining('left cordoned') }),
    expect.objectContaining({ node: other, leftCordoned: false }),
  ]);
  expect(await unschedulable(adminCordoned)).toBe(true);
  expect(await unschedulable(other)).toBe(false);
});

test('hooks run as Jobs on the node; a failing beforeDrain hook stops the run with its log tail, nothing drained', async () => {
  const [first, second] = [await cluster.addNode(), await cluster.addNode()];
  const passing = await maintain({ nodes: [first], hooks: { beforeDrain: hookJob(), beforeUncordon: hookJob() } });
  expect(passing.result?.outcome).toBe('completed');
  expect(passing.progress?.steps.find((s) => s.name === `node ${first}`)?.phase).toBe('done');
  const jobs = await cluster.kube.batch.listNamespacedJob({ namespace: cluster.namespace, labelSelector: `cluster-ops.wcloud.sh/node=${first}` });
  expect(jobs.items.map((j) => j.metadata?.labels?.['cluster-ops.wcloud.sh/hook']).sort()).toEqual(['beforeDrain', 'beforeUncordon']);
  expect(jobs.items.every((j) => j.spec?.template.spec?.nodeSelector?.['kubernetes.io/hostname'] === first)).toBe(true);

  const failing = await maintain({ nodes: [first, second], hooks: { beforeDrain: hookJob('ConnectX-7 port 1 link down, firmware check failed') } });
  const failure = failureOf(failing.error);
  expect(failure.type).toBe(FailureType.RolloutStopped);
  expect(failure.message).toContain('ConnectX-7 port 1 link down, firmware check failed');
  expect(failure.message).toMatch(new RegExp(`${first}: failed \\(${first}: hook beforeDrain`));
  expect(failure.message).not.toContain('[cordoned]');
  expect(failure.message).toContain(`${second}: not-started`);
  expect(await unschedulable(first)).toBe(false);
  expect(await unschedulable(second)).toBe(false);
});

test('the settle time delays the next node by a durable timer', async () => {
  const nodes = [await cluster.addNode(), await cluster.addNode()];
  const { result, handle } = await maintain({ nodes, settleSeconds: 3600 });
  expect(result?.outcome).toBe('completed');
  const [firstRun, secondRun] = await Promise.all(nodes.map((n) => env.client.workflow.getHandle(`${handle.workflowId}/${n}`).describe()));
  const gapMs = secondRun!.startTime.getTime() - firstRun!.closeTime!.getTime();
  expect(gapMs).toBeGreaterThanOrEqual(3600_000);
});

test('a failing health gate stops the run before the next node, naming the problem', async () => {
  const nodes = [await cluster.addNode(), await cluster.addNode()];
  const flux = await failingKustomization('observability');
  const { error } = await maintain({ nodes, healthGate: { fluxNamespace: flux, timeoutSeconds: 120 } });
  const failure = failureOf(error);
  expect(failure.type).toBe(FailureType.RolloutStopped);
  expect(failure.message).toContain(`gate after ${nodes[0]} failed`);
  expect(failure.message).toContain('observability: ReconciliationFailed');
  expect(failure.message).toContain('Not_A_Valid_Name');
  expect(failure.message).toContain(`${nodes[1]}: not-started`);
  expect(await unschedulable(nodes[0]!)).toBe(false);
  expect(await unschedulable(nodes[1]!)).toBe(false);
});

test('outside the maintenance window the run waits, and starts the node once the window opens', async () => {
  const [node] = [await cluster.addNode()];
  // The test server's clock, which earlier tests have skipped ahead.
  const opens = new Date(Math.ceil((Number(await env.currentTimeMs()) + 3 * 3600_000) / 60_000) * 60_000);
  const hhmm = (d: Date) => d.toISOString().slice(11, 16);
  const window = { days: [WEEKDAYS[opens.getUTCDay()]!], start: hhmm(opens), end: hhmm(new Date(opens.getTime() + 3600_000)), timeZone: 'UTC' };
  const { result, handle } = await maintain({ nodes: [node!], window });
  expect(result?.outcome).toBe('completed');
  const child = await env.client.workflow.getHandle(`${handle.workflowId}/${node}`).describe();
  expect(child.startTime.getTime()).toBeGreaterThanOrEqual(opens.getTime());
  expect(child.startTime.getTime()).toBeLessThan(opens.getTime() + 3600_000);
});

test('a node deleted mid-run fails its step clearly, stops the run, and leaves no lock behind', async () => {
  const [doomed, next] = [await cluster.addNode(), await cluster.addNode()];
  const { error, handle } = await maintain({ nodes: [doomed, next], until: 'done-signal' }, async (run) => {
    await eventually(
      async () => (await progressOf(run)).steps.find((s) => s.name === `node ${doomed}`)?.message?.startsWith('maintenance:'),
      'maintenance started',
    );
    await cluster.kube.core.deleteNode({ name: doomed });
    await run.signal('done', doomed);
  });
  const failure = failureOf(error);
  expect(failure.type).toBe(FailureType.RolloutStopped);
  expect(failure.message).toMatch(new RegExp(`${doomed}: failed \\(${doomed}: node ${doomed} no longer exists`));
  const [reports] = failure.details as [{ node: string; leftCordoned: boolean }[]];
  expect(reports.find((r) => r.node === doomed)?.leftCordoned).toBe(false);
  expect(await unschedulable(next)).toBe(false);
  // The run is closed, and it let the cluster's lock go.
  expect((await handle.describe()).status.name).toBe('FAILED');
});

test('a run past historyEventsPerRun continues as new: the Lease passes on, every node is maintained once, all reported', async () => {
  const nodes = await Promise.all(Array.from({ length: 6 }, () => cluster.addNode()));
  const { result, handle } = await maintain({ nodes, maxUnavailable: 2, historyEventsPerRun: 100 });
  expect(result?.outcome).toBe('completed');
  expect(result?.nodes.map((n) => [n.node, n.status, n.leftCordoned])).toEqual(nodes.map((n) => [n, 'maintained', false]));

  const runs = (await runTreeHistories(env.client, handle.workflowId, handle.firstExecutionRunId)).filter((r) => r.workflowId === handle.workflowId);
  expect(runs.length).toBeGreaterThanOrEqual(2);
  for (const run of runs) expect(run.history.events!.length).toBeLessThan(200);
  const childrenStarted = runs.flatMap((r) => r.history.events!.flatMap((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ?? []));
  expect(childrenStarted.sort()).toEqual(nodes.map((n) => `${handle.workflowId}/${n}`).sort());
  // The Lease passed from run to run (one transition per hand-over), and the last run let it go.
  const lease = await cluster.kube.coordination.readNamespacedLease({
    name: rollingLeaseName(handle.workflowId.replace(/^node-maintenance-/, '')),
    namespace: TEST_LEASE_NAMESPACE,
  });
  expect(lease.spec?.holderIdentity).toBeUndefined();
  expect(lease.spec?.leaseTransitions).toBe(runs.length - 1);
});

test('dry run lists, per node, the steps, hooks, gates and window, and changes nothing', async () => {
  const nodes = [await cluster.addNode(), await cluster.addNode()];
  const { result } = await maintain({
    nodes,
    dryRun: true,
    hooks: { beforeDrain: hookJob() },
    settleSeconds: 300,
    window: { days: ['sat', 'sun'], start: '02:00', end: '05:00', timeZone: 'Europe/Berlin' },
    healthGate: { prometheus: { url: 'http://vmsingle.vmks.svc:8429', query: 'sum(ALERTS{alertstate="firing",severity="critical"})' } },
  });
  expect(result?.outcome).toBe('planned');
  const first = result!.plan.steps[nodes[0]!]!;
  expect(first[0]).toBe('window: start a node only inside sat,sun 02:00-05:00 Europe/Berlin');
  expect(first).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^hook beforeDrain: Job pre-drain-check in .* on the node, timeout 120s/),
      'settle: 300s, the node must stay Ready and verified',
      expect.stringContaining('PromQL sum(ALERTS{alertstate="firing",severity="critical"}) returns 0'),
    ]),
  );
  expect(result!.plan.steps[nodes[1]!]!.some((line) => line.startsWith('settle'))).toBe(false);
  for (const node of nodes) expect(await unschedulable(node)).toBe(false);
});

/**
 * A Kustomization the real kustomize-controller has failed to apply (its manifest is one the API server
 * refuses), in this file's namespace; returns once Flux reports it Ready=False.
 */
async function failingKustomization(name: string): Promise<string> {
  const namespace = cluster.namespace;
  await startFluxRepoWorld(
    cluster.kube,
    namespace,
    { graph: [{ name, dependsOn: [] }], content: 'configmap' },
    { layers: { [name]: brokenManifest(namespace) } },
  );
  await eventually(
    async () => {
      const k = (await cluster.kube.custom.getNamespacedCustomObject({
        group: 'kustomize.toolkit.fluxcd.io',
        version: 'v1',
        namespace,
        plural: 'kustomizations',
        name,
      })) as {
        status?: { conditions?: { type: string; reason?: string }[] };
      };
      return k.status?.conditions?.some((c) => c.type === 'Ready' && c.reason === 'ReconciliationFailed');
    },
    `Flux to fail ${name}`,
    60_000,
  );
  return namespace;
}

test('one rolling operation per cluster: an SR-IOV rollout is refused while a maintenance run holds the cluster', async () => {
  const node = await cluster.addNode();
  // What the rollout names exists, so it gets as far as the lock (a run looks up its targets first).
  const daemonSet = { namespace: cluster.namespace, name: uniqueName('sriov') };
  await cluster.addDaemonSet(node, daemonSet.name);
  const kustomization = { namespace: cluster.namespace, name: uniqueName('base') };
  await createSuspendedKustomization(cluster.kube, kustomization.namespace, kustomization.name);
  const { result } = await maintain({ nodes: [node], until: 'done-signal' }, async (handle, { cluster: clusterName, taskQueue }) => {
    await eventually(
      async () => (await progressOf(handle)).steps.find((s) => s.name === `node ${node}`)?.message?.startsWith('maintenance:'),
      'maintenance started',
    );
    // A plain client: the time-skipping client would let the server's clock run while it waits, and with the
    // maintenance idle on its signal that clock jumps to the server's default run timeout.
    const refused = await new WorkflowClient({ connection: env.connection, namespace: env.namespace })
      .execute(sriovRollout, {
        taskQueue,
        workflowId: sriovRolloutId(clusterName),
        args: [{ cluster: clusterName, numVfs: 8, nodes: [node], gitops: { kustomization }, node: { daemonSet } }],
      })
      .catch((error: unknown) => error);
    expect(failureOf(refused)).toMatchObject({
      type: FailureType.ClusterBusy,
      message: expect.stringContaining(`node-maintenance ${handle.workflowId} (run `),
    });
    await handle.signal('done');
  });
  expect(result?.outcome).toBe('completed');
});
