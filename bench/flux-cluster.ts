// What the Flux benches share: an empty cluster per trial with the real source- and kustomize-controller and
// a synthetic repository, reading the Kustomizations back, Flux's own critical path, and a bootstrapCluster run
// on the built bundle.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { startFluxControllers } from '../lab/flux.js';
import { createFluxRepo, fluxRepoObjects } from '../lab/flux-repo.js';
import type { FluxRepoSpec } from '../lab/flux-repo.js';
import { startGitHttpServer } from '../lab/git-server.js';
import type { InfraPaths } from '../lab/infra/paths.js';
import { applyObjects } from '../lab/kube/apply.js';
import { startControlPlane } from '../lab/kube/control-plane.js';
import { installCrds } from '../lab/kube/crds.js';
import { ensureNode, WILLINGHAM_NODES } from '../lab/kube/nodes.js';
import { fluxReconcileMs } from '../src/activities/flux/kustomizations.js';
import { kubeClients, loadKubeConfig } from '../src/activities/kube/clients.js';
import type { KubeClients } from '../src/activities/kube/clients.js';
import { buildGraph, criticalPath, toKustomization } from '../src/domain/flux-graph.js';
import type { BootstrapClusterResult } from '../src/workflows/bootstrap-cluster.js';
import { progressQuery } from '../src/workflows/shared/messages.js';
import { builtBundleWorker } from './built-worker.js';

export const NAMESPACE = 'flux-system';
export const KUSTOMIZE = { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', namespace: NAMESPACE, plural: 'kustomizations' };

export type Listed = Parameters<typeof toKustomization>[0] & {
  metadata: { name: string; generation?: number };
  status?: {
    observedGeneration?: number;
    conditions?: { type: string; status: string }[];
    history?: { lastReconciled?: string; lastReconciledDuration?: string; totalReconciliations?: number }[];
  };
};
export const isReady = (k: Listed) =>
  k.status?.observedGeneration === k.metadata.generation && k.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

/** kustomize-controller's flags for a trial: Flux's defaults unless a bench says otherwise. */
export interface ControllerSettings {
  requeueDependency?: string;
  concurrent?: number;
}

export interface FluxCluster {
  kube: KubeClients;
  /** kustomize-controller's Prometheus endpoint. */
  kustomizeMetricsUrl: string;
  /** Applies the GitRepository and Kustomizations: from here on Flux works on its own. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** One empty cluster: control plane, a KWOK node, the seven Flux CRDs, the controllers, the synthetic repo. */
export async function emptyCluster(dir: string, infra: InfraPaths, spec: FluxRepoSpec, controllers: ControllerSettings = {}): Promise<FluxCluster> {
  mkdirSync(dir, { recursive: true });
  const controlPlane = await startControlPlane(join(dir, 'kube'), infra);
  const kube = kubeClients(loadKubeConfig(controlPlane.kubeconfig));
  await ensureNode(kube.core, WILLINGHAM_NODES[0]!);
  await installCrds(kube.config, infra.crds);
  await kube.core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
  const gitRoot = join(dir, 'git');
  mkdirSync(gitRoot);
  const git = await startGitHttpServer(gitRoot);
  await createFluxRepo(join(gitRoot, 'bench.git'), NAMESPACE, spec);
  const flux = await startFluxControllers(join(dir, 'flux'), infra, controlPlane.kubeconfig, controllers);
  return {
    kube,
    kustomizeMetricsUrl: flux.kustomizeMetricsUrl,
    start: () => applyObjects(kube.config, fluxRepoObjects(NAMESPACE, `${git.url}/bench.git`, spec), 'bench'),
    stop: async () => {
      await flux.stop();
      await git.close();
      await controlPlane.stop();
    },
  };
}

export async function list(kube: KubeClients): Promise<Listed[]> {
  return ((await kube.custom.listNamespacedCustomObject(KUSTOMIZE)) as { items: Listed[] }).items;
}

/** Lists every `pollMs` until all `count` Kustomizations are Ready; `onPass` sees each listing that was not. */
export async function untilAllReady(kube: KubeClients, count: number, pollMs: number, onPass: (items: Listed[]) => Promise<void> = async () => undefined) {
  for (;;) {
    const items = await list(kube);
    if (items.length === count && items.every(isReady)) return;
    await onPass(items);
    await delay(pollMs);
  }
}

export interface FluxDurations {
  /** Longest dependency chain by kustomize-controller's own per-reconcile durations (status.history). */
  fluxCriticalMs: number;
  path: string[];
  /** The same durations summed over every Kustomization: the reconcile work the graph needs at least. */
  fluxWorkMs: number;
  /** Reconciles that got as far as building and applying (status.history totalReconciliations, summed). */
  fluxApplies: number;
}

/** Flux's own durations of each Kustomization's latest reconcile (status.history lastReconciledDuration). */
export async function fluxDurations(kube: KubeClients): Promise<FluxDurations> {
  const items = await list(kube);
  const graph = buildGraph(items.map((item) => toKustomization(item, NAMESPACE)));
  const durations = Object.fromEntries(items.map((item) => [`${NAMESPACE}/${item.metadata.name}`, fluxReconcileMs(item) ?? 0]));
  const { path, totalMs } = criticalPath(graph, durations);
  const fluxWorkMs = Object.values(durations).reduce((a, b) => a + b, 0);
  const fluxApplies = items.reduce((n, item) => n + (item.status?.history ?? []).reduce((m, h) => m + (h.totalReconciliations ?? 0), 0), 0);
  return { path: path.map((id) => id.split('/')[1]!), fluxCriticalMs: totalMs, fluxWorkMs, fluxApplies };
}

export interface Trial<T = void> extends FluxDurations {
  /** From the apply of the GitRepository and Kustomizations until every Kustomization is Ready. */
  wallMs: number;
  /** What `drive` returned. */
  detail: T;
}

/** A fresh empty cluster: apply, `drive` until every Kustomization is Ready, read Flux's durations, tear down. */
export async function trial<T = void>(
  name: string,
  infra: InfraPaths,
  spec: FluxRepoSpec,
  drive: (cluster: FluxCluster) => Promise<T>,
  controllers: ControllerSettings = {},
): Promise<Trial<T>> {
  const dir = mkdtempSync(join(tmpdir(), `bench-flux-${name}-`));
  const cluster = await emptyCluster(dir, infra, spec, controllers);
  try {
    const started = Date.now();
    await cluster.start();
    const detail = await drive(cluster);
    const wallMs = Date.now() - started;
    return { wallMs, detail, ...(await fluxDurations(cluster.kube)) };
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * bootstrapCluster on the built bundle, a worker of its own on a fresh task queue; throws unless it completes.
 * A run that stops to wait for the operator (a Kustomization failed) is terminated and reported, not waited on.
 */
export async function runBootstrapCluster(connection: NativeConnection, client: Client, kube: KubeClients, parallelism: number, label: string) {
  const taskQueue = `bench-${label}-${Date.now()}`;
  const worker = await builtBundleWorker(connection, taskQueue, kube);
  const started = Date.now();
  const result = (await worker.runUntil(async () => {
    const handle = await client.workflow.start('bootstrapCluster', { taskQueue, workflowId: taskQueue, args: [{ namespace: NAMESPACE, parallelism }] });
    let settled = false;
    const stuck = (async () => {
      while (!settled) {
        await delay(5000);
        const phase = settled ? '' : (await handle.query(progressQuery)).phase;
        if (phase.startsWith('waiting for the operator')) {
          await handle.terminate('bench: a Kustomization failed');
          throw new Error(`bootstrapCluster stopped: ${phase}`);
        }
      }
    })();
    try {
      return await Promise.race([handle.result(), stuck]);
    } finally {
      settled = true;
    }
  })) as BootstrapClusterResult;
  if (result.outcome !== 'completed') throw new Error(`bootstrapCluster ended ${result.outcome}`);
  return { workflowId: taskQueue, result, runMs: Date.now() - started };
}
