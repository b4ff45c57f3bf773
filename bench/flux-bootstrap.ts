// Benchmark: the seeds' 12-Kustomization graph brought up on the REAL Flux source- and kustomize-controller,
// three ways, each from an empty cluster (a fresh control plane and controller pair per trial):
//   (a) Flux alone: GitRepository and Kustomizations applied, default --requeue-dependency (30 s);
//   (b) bootstrapCluster (the built workflow bundle, a real Temporal dev server);
//   (c) the loop a person would write: set reconcile.fluxcd.io/requestedAt on each Kustomization the moment
//       its dependencies are Ready (polling every 100 ms).
// Twice: one ConfigMap per Kustomization with `wait: false`, and one Deployment (made Ready by KWOK) with
// `wait: true`. Prints the wall times and the ratios (a)/(b), (b)/(c) from this one run; asserts nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { seedGraph } from '../lab/flux-repo.js';
import type { FluxRepoSpec } from '../lab/flux-repo.js';
import { installInfra } from '../lab/infra/paths.js';
import { startTemporalDevServer } from '../lab/temporal.js';
import { RECONCILE_REQUESTED_AT } from '../src/activities/flux/kustomizations.js';
import type { KubeClients } from '../src/activities/kube/clients.js';
import { isReady, KUSTOMIZE, runBootstrapCluster, trial, untilAllReady } from './flux-cluster.js';

const PARALLELISM = 8;
const POLL_MS = 100;

/** (c): what a person would script instead of a workflow. */
async function requestWhenDependenciesReady(kube: KubeClients, graph: FluxRepoSpec['graph']) {
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const requested = new Set<string>();
  await untilAllReady(kube, graph.length, POLL_MS, async (items) => {
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
      const fluxAlone = await trial('alone', infra, spec, ({ kube }) => untilAllReady(kube, graph.length, POLL_MS));
      console.log(`(a) Flux alone:       ${fluxAlone.wallMs} ms (Flux's critical path ${Math.round(fluxAlone.fluxCriticalMs)} ms)`);
      const workflow = await trial('workflow', infra, spec, async ({ kube }) => {
        await runBootstrapCluster(connection, client, kube, PARALLELISM, 'flux');
      });
      console.log(`(b) bootstrapCluster: ${workflow.wallMs} ms (Flux's critical path ${Math.round(workflow.fluxCriticalMs)} ms: ${workflow.path.join(' → ')})`);
      const script = await trial('script', infra, spec, ({ kube }) => requestWhenDependenciesReady(kube, graph));
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
