// Benchmark: how close bootstrapCluster gets to the critical path of the cluster's Flux graph.
// Real Temporal dev server and control plane; Flux is SIMULATED with a fixed apply time per Kustomization.
// Prints ratios measured in this one run; asserts nothing about time (see bench/README.md).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { installInfra } from '../lab/infra/paths.js';
import { startControlPlane } from '../lab/kube/control-plane.js';
import { installCrds } from '../lab/kube/crds.js';
import { repoRoot } from '../lab/repo-root.js';
import { startLabGitOps } from '../lab/sim/index.js';
import { startTemporalDevServer } from '../lab/temporal.js';
import { kubeClients, loadKubeConfig } from '../src/activities/kube/clients.js';
import { createWorker } from '../src/worker.js';
import type { BootstrapClusterResult } from '../src/workflows/bootstrap-cluster.js';

const APPLY_MS = Number(process.env.BENCH_APPLY_MS ?? 5000);
const PARALLELISM = Number(process.env.BENCH_PARALLELISM ?? 8);

async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const dir = mkdtempSync(join(tmpdir(), 'bench-bootstrap-'));
  const infra = await installInfra();
  const [temporal, controlPlane] = await Promise.all([
    startTemporalDevServer(join(dir, 'temporal'), infra, { headless: true }),
    startControlPlane(join(dir, 'kube'), infra),
  ]);
  const kube = kubeClients(loadKubeConfig(controlPlane.kubeconfig));
  await installCrds(kube.config, infra.crds);
  const gitops = await startLabGitOps(kube.config, join(dir, 'gitops'), { flux: { requestedOnly: true, applyMs: () => APPLY_MS, pollMs: 100 } });
  const connection = await NativeConnection.connect({ address: temporal.address });
  const worker = await createWorker({
    connection,
    namespace: 'default',
    taskQueue: 'bench',
    deps: { kube },
    workflowBundlePath: join(repoRoot(), 'dist/workflow-bundle.js'),
  });
  const client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
  try {
    const started = Date.now();
    const result = await worker.runUntil(
      client.workflow.execute('bootstrapCluster', { taskQueue: 'bench', workflowId: 'bench-bootstrap', args: [{ parallelism: PARALLELISM }] }),
    ) as BootstrapClusterResult;
    const outsideMs = Date.now() - started;
    const levels = result.levels.length;
    console.log(`Flux graph: ${result.kustomizations.length} Kustomizations in ${levels} levels; simulated apply ${APPLY_MS} ms each; parallelism ${PARALLELISM}`);
    console.log(`critical path: ${result.criticalPath.path.map((id) => id.split('/')[1]).join(' → ')} = ${result.criticalPath.totalMs} ms`);
    console.log(`bootstrap wall time (workflow): ${result.wallMs} ms; as seen by the client: ${outsideMs} ms`);
    // Flux's own work along the critical path: one apply per level. Everything above it is ours plus the
    // simulator's latency (its 100 ms poll where Flux reacts by watch, status writes, watch delivery).
    const fluxWorkMs = levels * APPLY_MS;
    console.log(`ratio wall / Flux work on the critical path (${fluxWorkMs} ms): ${(result.wallMs / fluxWorkMs).toFixed(3)} (target ≤ 1.10)`);
    console.log(`overhead per level: ${((result.wallMs - fluxWorkMs) / levels).toFixed(0)} ms (ours + the simulator's reaction time)`);
    console.log(`ratio wall / measured critical path: ${(result.wallMs / result.criticalPath.totalMs).toFixed(3)} (gaps between Kustomizations)`);
    console.log(`orchestration overhead between Kustomizations: ${result.overheadMs} ms`);
    // What plain Flux would do: each level waits for its dependencies' next requeue (--requeue-dependency 30 s).
    const fluxAloneMs = levels * APPLY_MS + (levels - 1) * 15_000;
    console.log(`plain Flux, expected (half a 30 s requeue per level): ~${fluxAloneMs} ms; ratio bootstrap / plain Flux: ${(result.wallMs / fluxAloneMs).toFixed(3)}`);
  } finally {
    await client.connection.close();
    await connection.close();
    await gitops.stop();
    await Promise.all([temporal.stop(), controlPlane.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
