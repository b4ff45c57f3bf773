import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowFailedError, WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { FLUX_REPO_CLUSTER, seedGraph } from '../../lab/flux-repo.js';
import { GITOPS_BRANCH } from '../../lab/gitops.js';
import { kubectlKustomize } from '../../src/activities/gitops/flux-tree.js';
import { GitOpsRepo } from '../../src/activities/gitops/repo.js';
import type { Progress } from '../../src/schemas/progress.js';
import { bootstrapCluster } from '../../src/workflows/bootstrap-cluster.js';
import type { BootstrapClusterResult } from '../../src/workflows/bootstrap-cluster.js';
import { testEnv } from '../helpers/env.js';
import { brokenManifest, names, startFluxRepoWorld, WILLINGHAM_FLUX_LEVELS } from '../helpers/flux.js';
import { eventually, TestCluster, uniqueName } from '../helpers/kube.js';
import { rejectionOf, timeSkippingEnvironment, withWorker, workflowTaskFailures } from '../helpers/temporal.js';
import { FailureType } from '../../src/failures.js';

// The real source- and kustomize-controller of the test run reconcile a synthetic repository with the
// seeds' 12-Kustomization graph, one ConfigMap each (lab/flux-repo.ts): fast, and every failure is real.
let env: TestWorkflowEnvironment;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  env = await timeSkippingEnvironment();
});
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await env?.teardown();
});

/** A namespace whose GitRepository and Kustomizations were just created: Flux has not got far yet. */
async function freshCluster(options: { broken?: string; root?: boolean } = {}) {
  const cluster = await TestCluster.create('bootstrap');
  cleanups.push(() => cluster.close());
  const layers = options.broken ? { [options.broken]: brokenManifest(cluster.namespace) } : {};
  const world = await startFluxRepoWorld(cluster.kube, cluster.namespace, { graph: seedGraph(), content: 'configmap' }, { layers, root: options.root });
  return { cluster, world };
}

function run(
  cluster: TestCluster,
  input: object,
  drive: (handle: WorkflowHandle<typeof bootstrapCluster>) => Promise<void> = async () => undefined,
  bareRepo?: string,
  startPaused = false,
) {
  const gitops = bareRepo && {
    repo: new GitOpsRepo({
      url: bareRepo,
      baseBranch: GITOPS_BRANCH,
      checkoutDir: mkdtempSync(join(tmpdir(), 'checkout-')),
      author: { name: 't', email: 't@invalid' },
    }),
    renderKustomize: kubectlKustomize(join(testEnv('kubeBin'), 'kubectl')),
  };
  return withWorker(env, { kube: cluster.kube, gitops: gitops || undefined }, async (taskQueue) => {
    const options = { taskQueue, workflowId: uniqueName('bootstrap'), args: [{ namespace: cluster.namespace, ...input }] as const };
    const handle = startPaused
      ? await env.client.workflow.signalWithStart(bootstrapCluster, { ...options, signal: 'pause', signalArgs: [] })
      : await env.client.workflow.start(bootstrapCluster, options);
    await drive(handle);
    return handle.result().then(
      (result) => ({ result, error: undefined, handle }),
      (error: unknown) => ({ result: undefined, error, handle }),
    );
  });
}

const short = (id: string) => id.split('/')[1]!;
const waitingForOperator = (handle: WorkflowHandle) =>
  eventually(
    async () => {
      const progress = await handle.query<Progress>('progress');
      return progress.phase.startsWith('waiting for the operator') && progress;
    },
    'the run to wait for the operator',
    60_000,
  );

test('brings every Kustomization up in dependsOn order on real Flux, independent branches in parallel', async () => {
  const { cluster } = await freshCluster();
  const { result } = await run(cluster, { parallelism: 4 });
  const r = result as BootstrapClusterResult;
  expect(r.outcome).toBe('completed');
  expect(r.kustomizations.every((k) => k.phase === 'ready')).toBe(true);
  expect(r.kustomizations.every((k) => k.message.startsWith('Applied revision: master@sha1:'))).toBe(true);
  const byId = new Map(r.kustomizations.map((k) => [k.id, k]));
  // Nothing started before everything it depends on was Ready.
  const deps: Record<string, string[]> = { crds: ['namespaces'], base: ['crds'], routes: ['crds'], operators: ['base'], vpa: ['observability'] };
  for (const [name, needs] of Object.entries(deps)) {
    for (const need of needs) {
      expect(byId.get(`${cluster.namespace}/${name}`)!.startedAt!).toBeGreaterThanOrEqual(byId.get(`${cluster.namespace}/${need}`)!.finishedAt!);
    }
  }
  // The six Kustomizations after operators were requested together, up to the parallelism limit.
  const level4 = r.levels[4]!.map((id) => byId.get(id)!);
  const concurrentAt = (t: number) => level4.filter((k) => k.startedAt! <= t && t < k.finishedAt!).length;
  expect(Math.max(...level4.map((k) => concurrentAt(k.startedAt!)))).toBe(4);
  // The critical path is a dependency chain from the root, timed by kustomize-controller's own durations.
  const path = r.criticalPath.path.map(short);
  expect(path[0]).toBe('namespaces');
  expect(path.length).toBeGreaterThanOrEqual(5);
  expect(r.kustomizations.every((k) => typeof k.fluxDurationMs === 'number')).toBe(true);
  expect(r.criticalPath.totalMs).toBeGreaterThan(0);
  expect(r.wallMs).toBeGreaterThanOrEqual(r.criticalPath.totalMs);
});

test('a real apply failure blocks only its dependents; after the fix is pushed, retry fetches it and finishes the run', async () => {
  const { cluster, world } = await freshCluster({ broken: 'operators' });
  const { result, handle: bootstrap } = await run(cluster, {}, async (handle) => {
    const waiting = await waitingForOperator(handle);
    const phase = (name: string) => waiting.steps.find((s) => s.name === `${cluster.namespace}/${name}`)?.phase;
    expect([phase('namespaces'), phase('crds'), phase('base'), phase('routes')]).toEqual(['done', 'done', 'done', 'done']);
    expect(phase('operators')).toBe('failed');
    // Flux's own words: the API server refused the object.
    expect(waiting.steps.find((s) => s.name.endsWith('/operators'))?.message).toContain('Not_A_Valid_Name');
    expect([phase('network'), phase('security'), phase('vpa')]).toEqual(['pending', 'pending', 'pending']);
    // Every bad form of the commands is refused with the reason, and the run is untouched.
    const ns = cluster.namespace;
    expect(await rejectionOf(handle, 'retryKustomization')).toBe('retryKustomization rejected: name the Kustomization: <name> or <namespace>/<name>');
    expect(await rejectionOf(handle, 'retryKustomization', 'no-such')).toBe(`retryKustomization rejected: no Kustomization ${ns}/no-such in this run`);
    expect(await rejectionOf(handle, 'skipKustomization', 'base')).toBe(`skipKustomization rejected: ${ns}/base has not failed (it is ready)`);
    expect(await rejectionOf(handle, 'skipKustomization', 'network')).toBe(`skipKustomization rejected: ${ns}/network has not failed (it is pending)`);
    // What the OIDC runs teach: a bare retry signal. Its handler drops it instead of failing the workflow task.
    await handle.signal('retryKustomization');
    await world.restoreLayer('operators');
    expect(await handle.executeUpdate<string, [string]>('retryKustomization', { args: ['operators'] })).toBe(`retrying ${ns}/operators`);
  });
  expect(await workflowTaskFailures(bootstrap)).toBe(0);
  expect(result?.outcome).toBe('completed');
  expect(result?.kustomizations.every((k) => k.phase === 'ready')).toBe(true);
});

test('skip gives up on a failed Kustomization and its dependents, the rest completes; abort stops the run', async () => {
  const { cluster } = await freshCluster({ broken: 'observability' });
  const { result } = await run(cluster, {}, async (handle) => {
    await waitingForOperator(handle);
    await handle.signal('skipKustomization', 'observability');
  });
  expect(result?.outcome).toBe('completed');
  expect(result?.kustomizations.find((k) => k.id.endsWith('/observability'))?.phase).toBe('skipped');
  expect(result?.kustomizations.find((k) => k.id.endsWith('/vpa'))).toMatchObject({ phase: 'skipped', message: expect.stringContaining('depends on skipped') });
  expect(result?.kustomizations.filter((k) => k.phase === 'ready')).toHaveLength(10);

  const again = await freshCluster({ broken: 'crds' });
  const aborted = await run(again.cluster, {}, async (handle) => {
    await waitingForOperator(handle);
    await handle.signal('abort');
  });
  expect(aborted.result?.outcome).toBe('aborted');
  expect(aborted.result?.kustomizations.filter((k) => k.phase === 'ready').map((k) => short(k.id))).toEqual(['namespaces']);
});

test('a cyclic graph fails at once, naming the cycle; dry run only plans', async () => {
  const cluster = await TestCluster.create('bootstrap-cycle');
  cleanups.push(() => cluster.close());
  const kustomization = (name: string, dependsOn: string) => ({
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name, namespace: cluster.namespace },
    spec: { interval: '10m', path: `./${name}`, prune: true, sourceRef: { kind: 'GitRepository', name: 'flux-system' }, dependsOn: [{ name: dependsOn }] },
  });
  for (const [name, dep] of [
    ['a', 'b'],
    ['b', 'a'],
  ] as const) {
    await cluster.kube.custom.createNamespacedCustomObject({
      group: 'kustomize.toolkit.fluxcd.io',
      version: 'v1',
      namespace: cluster.namespace,
      plural: 'kustomizations',
      body: kustomization(name, dep),
    });
  }
  const { error } = await run(cluster, {});
  const cause = (error as WorkflowFailedError).cause as { cause?: { type?: string; message: string } };
  expect(cause.cause).toMatchObject({ type: FailureType.InvalidFluxGraph, message: expect.stringContaining(`dependency cycle`) });
  expect(cause.cause?.message).toContain(`${cluster.namespace}/a → ${cluster.namespace}/b → ${cluster.namespace}/a`);

  const { cluster: planned } = await freshCluster();
  const { result } = await run(planned, { dryRun: true });
  expect(result).toMatchObject({ outcome: 'planned' });
  expect(names(result!.levels)).toEqual(WILLINGHAM_FLUX_LEVELS);
  expect(result?.kustomizations.every((k) => k.phase === 'pending')).toBe(true);
});

test('the graph can come from the GitOps repo at a ref instead of the live cluster', async () => {
  const { cluster, world } = await freshCluster();
  const { result } = await run(cluster, { graphSource: 'git', gitRef: GITOPS_BRANCH, cluster: FLUX_REPO_CLUSTER, parallelism: 8 }, undefined, world.bareRepo);
  expect(result?.outcome).toBe('completed');
  expect(names(result!.levels)).toEqual(WILLINGHAM_FLUX_LEVELS);
});

test('Kustomizations a parent creates join the run once the parent has applied them, after it', async () => {
  // As `flux bootstrap` leaves a cluster: one root Kustomization over clusters/lab, which holds the other 12.
  const { cluster } = await freshCluster({ root: true });
  const { result } = await run(cluster, { parallelism: 8 });
  expect(result?.outcome).toBe('completed');
  expect(result?.kustomizations).toHaveLength(13);
  expect(result?.kustomizations.every((k) => k.phase === 'ready')).toBe(true);
  const root = result!.kustomizations.find((k) => k.id === `${cluster.namespace}/flux-system`)!;
  for (const child of result!.kustomizations.filter((k) => k !== root)) expect(child.startedAt!).toBeGreaterThanOrEqual(root.finishedAt!);
});

test('pause holds new reconciles, resume carries on', async () => {
  const { cluster } = await freshCluster();
  const { result } = await run(
    cluster,
    { parallelism: 8 },
    async (handle) => {
      await eventually(async () => (await handle.query<Progress>('progress')).paused, 'the run paused');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const paused = await handle.query<Progress>('progress');
      expect(paused.steps.length).toBe(12);
      expect(paused.steps.filter((s) => s.phase !== 'pending')).toEqual([]);
      await handle.signal('resume');
    },
    undefined,
    true,
  );
  expect(result?.outcome).toBe('completed');
});
