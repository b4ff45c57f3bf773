import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowFailedError, WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { GITOPS_BRANCH } from '../../lab/gitops.js';
import { startLabGitOps } from '../../lab/sim/index.js';
import { GitOpsRepo } from '../../src/activities/gitops/repo.js';
import type { LabGitOps } from '../../lab/sim/index.js';
import type { Progress } from '../../src/schemas/progress.js';
import { bootstrapCluster } from '../../src/workflows/bootstrap-cluster.js';
import type { BootstrapClusterResult } from '../../src/workflows/bootstrap-cluster.js';
import { names, WILLINGHAM_FLUX_LEVELS } from '../helpers/flux.js';
import { eventually, TestCluster, uniqueName } from '../helpers/kube.js';
import { timeSkippingEnvironment, withWorker } from '../helpers/temporal.js';

const APPLY_MS = 300;
let env: TestWorkflowEnvironment;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  env = await timeSkippingEnvironment();
});
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await env?.teardown();
});

/** A namespace holding the cluster's Kustomizations, none reconciled yet; simulated Flux acts only on request. */
async function freshCluster(failing = new Set<string>()): Promise<{ cluster: TestCluster; lab: LabGitOps; failing: Set<string> }> {
  const cluster = await TestCluster.create('bootstrap');
  const lab = await startLabGitOps(cluster.kube.config, mkdtempSync(join(tmpdir(), 'bootstrap-')), {
    placement: { namespace: cluster.namespace },
    flux: { requestedOnly: true, applyMs: () => APPLY_MS, failing },
  });
  cleanups.push(() => cluster.close(), () => lab.stop());
  return { cluster, lab, failing };
}

function run(
  cluster: TestCluster,
  input: object,
  drive: (handle: WorkflowHandle<typeof bootstrapCluster>) => Promise<void> = async () => undefined,
  lab?: LabGitOps,
) {
  const gitops = lab && {
    repo: new GitOpsRepo({ url: lab.bareRepo, baseBranch: GITOPS_BRANCH, checkoutDir: mkdtempSync(join(tmpdir(), 'checkout-')), author: { name: 't', email: 't@invalid' } }),
  };
  return withWorker(env, { kube: cluster.kube, gitops }, async (taskQueue) => {
    const handle = await env.client.workflow.start(bootstrapCluster, {
      taskQueue,
      workflowId: uniqueName('bootstrap'),
      args: [{ namespace: cluster.namespace, ...input }],
    });
    await drive(handle);
    return handle.result().then((result) => ({ result, error: undefined }), (error: unknown) => ({ result: undefined, error }));
  });
}

const short = (id: string) => id.split('/')[1]!;

test('brings every Kustomization up in dependsOn order, independent branches in parallel', async () => {
  const { cluster } = await freshCluster();
  const { result } = await run(cluster, { parallelism: 4 });
  const r = result as BootstrapClusterResult;
  expect(r.outcome).toBe('completed');
  expect(r.kustomizations.every((k) => k.phase === 'ready')).toBe(true);
  const byId = new Map(r.kustomizations.map((k) => [k.id, k]));
  // Nothing started before everything it depends on was Ready.
  const deps: Record<string, string[]> = { crds: ['namespaces'], base: ['crds'], routes: ['crds'], operators: ['base'], vpa: ['observability'] };
  for (const [name, needs] of Object.entries(deps)) {
    for (const need of needs) {
      expect(byId.get(`${cluster.namespace}/${name}`)!.startedAt!).toBeGreaterThanOrEqual(byId.get(`${cluster.namespace}/${need}`)!.finishedAt!);
    }
  }
  // The six Kustomizations after operators overlapped, up to the parallelism limit.
  const level4 = r.levels[4]!.map((id) => byId.get(id)!);
  const concurrentAt = (t: number) => level4.filter((k) => k.startedAt! <= t && t < k.finishedAt!).length;
  expect(Math.max(...level4.map((k) => concurrentAt(k.startedAt!)))).toBe(4);
  expect(r.criticalPath.path.map(short)).toEqual(['namespaces', 'crds', 'base', 'operators', 'observability', 'vpa']);
  expect(r.criticalPath.totalMs).toBeGreaterThanOrEqual(6 * APPLY_MS);
  expect(r.wallMs).toBeGreaterThanOrEqual(r.criticalPath.totalMs);
});

test('a failure blocks only its dependents; after the fix, retry finishes the run', async () => {
  const { cluster, failing } = await freshCluster(new Set(['operators']));
  const { result } = await run(cluster, {}, async (handle) => {
    const waiting = await eventually(async () => {
      const progress = await handle.query<Progress>('progress');
      return progress.phase.startsWith('waiting for the operator') && progress;
    }, 'the run to wait for the operator');
    const phase = (name: string) => waiting.steps.find((s) => s.name === `${cluster.namespace}/${name}`)?.phase;
    expect([phase('namespaces'), phase('crds'), phase('base'), phase('routes')]).toEqual(['done', 'done', 'done', 'done']);
    expect(phase('operators')).toBe('failed');
    expect(waiting.steps.find((s) => s.name.endsWith('/operators'))?.message).toContain('simulated failure');
    expect([phase('network'), phase('security'), phase('vpa')]).toEqual(['pending', 'pending', 'pending']);
    failing.delete('operators');
    await handle.signal('retry', 'operators');
  });
  expect(result?.outcome).toBe('completed');
});

test('skip gives up on a failed Kustomization and its dependents, the rest completes; abort stops the run', async () => {
  const { cluster } = await freshCluster(new Set(['observability']));
  const { result } = await run(cluster, {}, async (handle) => {
    await eventually(async () => (await handle.query<Progress>('progress')).phase.startsWith('waiting for the operator'), 'the failure');
    await handle.signal('skip', 'observability');
  });
  expect(result?.outcome).toBe('completed');
  expect(result?.kustomizations.find((k) => k.id.endsWith('/observability'))?.phase).toBe('skipped');
  expect(result?.kustomizations.find((k) => k.id.endsWith('/vpa'))).toMatchObject({ phase: 'skipped', message: expect.stringContaining('depends on skipped') });
  expect(result?.kustomizations.filter((k) => k.phase === 'ready')).toHaveLength(10);

  const again = await freshCluster(new Set(['crds']));
  const aborted = await run(again.cluster, {}, async (handle) => {
    await eventually(async () => (await handle.query<Progress>('progress')).phase.startsWith('waiting for the operator'), 'the failure');
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
  for (const [name, dep] of [['a', 'b'], ['b', 'a']] as const) {
    await cluster.kube.custom.createNamespacedCustomObject({
      group: 'kustomize.toolkit.fluxcd.io', version: 'v1', namespace: cluster.namespace, plural: 'kustomizations', body: kustomization(name, dep),
    });
  }
  const { error } = await run(cluster, {});
  const cause = (error as WorkflowFailedError).cause as { cause?: { type?: string; message: string } };
  expect(cause.cause).toMatchObject({ type: 'InvalidFluxGraph', message: expect.stringContaining(`dependency cycle`) });
  expect(cause.cause?.message).toContain(`${cluster.namespace}/a → ${cluster.namespace}/b → ${cluster.namespace}/a`);

  const { cluster: planned } = await freshCluster();
  const { result } = await run(planned, { dryRun: true });
  expect(result).toMatchObject({ outcome: 'planned' });
  expect(names(result!.levels)).toEqual(WILLINGHAM_FLUX_LEVELS);
  expect(result?.kustomizations.every((k) => k.phase === 'pending')).toBe(true);
});

test('the graph can come from the GitOps repo at a ref instead of the live cluster', async () => {
  const { cluster, lab } = await freshCluster();
  const { result } = await run(cluster, { graphSource: 'git', gitRef: GITOPS_BRANCH, parallelism: 8 }, undefined, lab);
  expect(result?.outcome).toBe('completed');
  expect(names(result!.levels)).toEqual(WILLINGHAM_FLUX_LEVELS);
});

test('pause holds new reconciles (running ones finish), resume carries on', async () => {
  const { cluster } = await freshCluster();
  const { result } = await run(cluster, { parallelism: 8 }, async (handle) => {
    await eventually(async () => (await handle.query<Progress>('progress')).steps.find((s) => s.name.endsWith('/crds'))?.phase === 'running', 'crds running');
    await handle.signal('pause');
    await eventually(async () => (await handle.query<Progress>('progress')).steps.find((s) => s.name.endsWith('/crds'))?.phase === 'done', 'crds done');
    await new Promise((resolve) => setTimeout(resolve, 2 * APPLY_MS));
    const paused = await handle.query<Progress>('progress');
    expect(paused.paused).toBe(true);
    expect(paused.steps.filter((s) => s.phase !== 'pending').map((s) => short(s.name))).toEqual(['namespaces', 'crds']);
    await handle.signal('resume');
  });
  expect(result?.outcome).toBe('completed');
});
