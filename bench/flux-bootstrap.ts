// Benchmark: the seeds' 12-Kustomization graph brought up on the REAL Flux source- and kustomize-controller,
// three ways, each from an empty cluster (a fresh control plane and controller pair per trial):
//   (a) Flux alone: GitRepository and Kustomizations applied, default --requeue-dependency (30 s);
//   (b) bootstrapCluster (the built workflow bundle, a real Temporal dev server);
//   (c) the loop a person would write: set reconcile.fluxcd.io/requestedAt on each Kustomization the moment
//       its dependencies are Ready (polling every 100 ms).
// Twice: one ConfigMap per Kustomization with `wait: false`, and one Deployment (made Ready by KWOK) with
// `wait: true`. Prints the wall times and the ratios (a)/(b), (b)/(c) from this one run; asserts nothing.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { startFluxControllers } from '../lab/flux.js';
import { createFluxRepo, fluxRepoObjects, seedGraph } from '../lab/flux-repo.js';
import type { FluxRepoSpec } from '../lab/flux-repo.js';
import { startGitHttpServer } from '../lab/git-server.js';
import { installInfra } from '../lab/infra/paths.js';
import type { InfraPaths } from '../lab/infra/paths.js';
import { applyObjects } from '../lab/kube/apply.js';
import { startControlPlane } from '../lab/kube/control-plane.js';
import { installCrds } from '../lab/kube/crds.js';
import { ensureNode, WILLINGHAM_NODES } from '../lab/kube/nodes.js';
import { startTemporalDevServer } from '../lab/temporal.js';
import { fluxReconcileMs, RECONCILE_REQUESTED_AT } from '../src/activities/flux/kustomizations.js';
import { kubeClients, loadKubeConfig } from '../src/activities/kube/clients.js';
import type { KubeClients } from '../src/activities/kube/clients.js';
import { buildGraph, criticalPath, toKustomization } from '../src/domain/flux-graph.js';
import { builtBundleWorker } from './built-worker.js';
import type { BootstrapClusterResult } from '../src/workflows/bootstrap-cluster.js';

const NAMESPACE = 'flux-system';
const PARALLELISM = 8;
const POLL_MS = 100;
const KUSTOMIZE = { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', namespace: NAMESPACE, plural: 'kustomizations' };

type Listed = Parameters<typeof toKustomization>[0] & {
  metadata: { name: string; generation?: number };
  status?: { observedGeneration?: number; conditions?: { type: string; status: string }[] };
};
const isReady = (k: Listed) =>
  k.status?.observedGeneration === k.metadata.generation && k.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

interface Trial {
  wallMs: number;
  /** Longest dependency chain by kustomize-controller's own durations (status.history). */
  fluxCriticalMs: number;
  path: string[];
}

/** One empty cluster: control plane, a KWOK node, the seven Flux CRDs, the controllers, the synthetic repo. */
async function emptyCluster(dir: string, infra: InfraPaths, spec: FluxRepoSpec) {
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
  const flux = await startFluxControllers(join(dir, 'flux'), infra, controlPlane.kubeconfig);
  return {
    kube,
    /** Applies the GitRepository and Kustomizations: from here on Flux works on its own. */
    start: () => applyObjects(kube.config, fluxRepoObjects(NAMESPACE, `${git.url}/bench.git`, spec), 'bench'),
    stop: async () => {
      await flux.stop();
      await git.close();
      await controlPlane.stop();
    },
  };
}

async function list(kube: KubeClients): Promise<Listed[]> {
  return ((await kube.custom.listNamespacedCustomObject(KUSTOMIZE)) as { items: Listed[] }).items;
}

async function untilAllReady(kube: KubeClients, count: number, onPass: (items: Listed[]) => Promise<void> = async () => undefined) {
  for (;;) {
    const items = await list(kube);
    if (items.length === count && items.every(isReady)) return;
    await onPass(items);
    await delay(POLL_MS);
  }
}

async function fluxCriticalPath(kube: KubeClients) {
  const items = await list(kube);
  const graph = buildGraph(items.map((item) => toKustomization(item, NAMESPACE)));
  const durations = Object.fromEntries(items.map((item) => [`${NAMESPACE}/${item.metadata.name}`, fluxReconcileMs(item) ?? 0]));
  const { path, totalMs } = criticalPath(graph, durations);
  return { path: path.map((id) => id.split('/')[1]!), fluxCriticalMs: totalMs };
}

async function trial(name: string, infra: InfraPaths, spec: FluxRepoSpec, drive: (kube: KubeClients) => Promise<void>): Promise<Trial> {
  const dir = mkdtempSync(join(tmpdir(), `bench-flux-${name}-`));
  const cluster = await emptyCluster(dir, infra, spec);
  try {
    const started = Date.now();
    await cluster.start();
    await drive(cluster.kube);
    const wallMs = Date.now() - started;
    return { wallMs, ...(await fluxCriticalPath(cluster.kube)) };
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** (c): what a person would script instead of a workflow. */
async function requestWhenDependenciesReady(kube: KubeClients, graph: FluxRepoSpec['graph']) {
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const requested = new Set<string>();
  await untilAllReady(kube, graph.length, async (items) => {
    const ready = new Set(items.filter(isReady).map((k) => k.metadata.name));
    for (const { name, dependsOn } of graph) {
      if (requested.has(name) || !items.some((k) => k.metadata.name === name) || !dependsOn.every((d) => ready.has(d))) continue;
      requested.add(name);
      const body = { metadata: { annotations: { [RECONCILE_REQUESTED_AT]: new Date().toISOString() } } };
      await kube.custom.patchNamespacedCustomObject({ ...KUSTOMIZE, name, body }, mergePatch);
    }
  });
}

async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const infra = await installInfra();
  const dir = mkdtempSync(join(tmpdir(), 'bench-flux-'));
  const temporal = await startTemporalDevServer(join(dir, 'temporal'), infra, { headless: true });
  const connection = await NativeConnection.connect({ address: temporal.address });
  const client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
  const graph = seedGraph();
  const configurations: { label: string; spec: FluxRepoSpec; goal: number }[] = [
    { label: 'one ConfigMap per Kustomization, wait: false', spec: { graph, content: 'configmap' }, goal: 10 },
    { label: 'one Deployment per Kustomization (Ready by KWOK), wait: true', spec: { graph, content: 'deployment' }, goal: 5 },
  ];
  const summary: string[] = [];
  try {
    for (const { label, spec, goal } of configurations) {
      console.log(`\n== ${label}: ${graph.length} Kustomizations`);
      const fluxAlone = await trial('alone', infra, spec, (kube) => untilAllReady(kube, graph.length));
      console.log(`(a) Flux alone:       ${fluxAlone.wallMs} ms (Flux's critical path ${Math.round(fluxAlone.fluxCriticalMs)} ms)`);
      let run = 0;
      const workflow = await trial('workflow', infra, spec, async (kube) => {
        const taskQueue = `bench-${++run}-${Date.now()}`;
        const worker = await builtBundleWorker(connection, taskQueue, kube);
        const result = (await worker.runUntil(
          client.workflow.execute('bootstrapCluster', { taskQueue, workflowId: taskQueue, args: [{ namespace: NAMESPACE, parallelism: PARALLELISM }] }),
        )) as BootstrapClusterResult;
        if (result.outcome !== 'completed') throw new Error(`bootstrapCluster ended ${result.outcome}`);
      });
      console.log(`(b) bootstrapCluster: ${workflow.wallMs} ms (Flux's critical path ${Math.round(workflow.fluxCriticalMs)} ms: ${workflow.path.join(' → ')})`);
      const script = await trial('script', infra, spec, (kube) => requestWhenDependenciesReady(kube, graph));
      console.log(`(c) request loop:     ${script.wallMs} ms (Flux's critical path ${Math.round(script.fluxCriticalMs)} ms)`);
      const fluxOverWorkflow = fluxAlone.wallMs / workflow.wallMs;
      const workflowOverScript = workflow.wallMs / script.wallMs;
      console.log(`(a)/(b) = ${fluxOverWorkflow.toFixed(2)} (goal ≥ ${goal})   (b)/(c) = ${workflowOverScript.toFixed(2)} (goal ≤ 1.5)`);
      summary.push(
        `| ${label} | ${fluxAlone.wallMs} | ${workflow.wallMs} | ${script.wallMs} | ${fluxOverWorkflow.toFixed(2)} | ${workflowOverScript.toFixed(2)} |`,
      );
    }
    console.log('\n| configuration | (a) ms | (b) ms | (c) ms | (a)/(b) | (b)/(c) |\n|---|---|---|---|---|---|');
    for (const line of summary) console.log(line);
  } finally {
    await client.connection.close();
    await connection.close();
    await temporal.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
