// Benchmark: the built worker's footprint as production starts it (`node dist/src/worker.js`, the prebuilt
// workflow bundle, JSON logs, the Prometheus endpoint), against a real Temporal dev server and a real
// control plane. Prints, per start: the time from spawn to the SDK's "Worker state changed: RUNNING" (its
// pollers are open then), and the resident set after 30 idle seconds; then the medians against the goals
// (start ≤ 3 s, idle RSS ≤ 250 MB). Asserts nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { installInfra } from '../lab/infra/paths.js';
import { startControlPlane } from '../lab/kube/control-plane.js';
import { freePort } from '../lab/process.js';
import { repoRoot } from '../lab/repo-root.js';
import { startTemporalDevServer } from '../lab/temporal.js';
import { startWorkerProcess } from './built-worker.js';

const STARTS = 5;
const IDLE_MS = 30_000;
const START_GOAL_MS = 3_000;
const IDLE_RSS_GOAL_MB = 250;

async function startOnce(env: NodeJS.ProcessEnv, idleMs: number) {
  const worker = await startWorkerProcess(env);
  try {
    const atStartMb = worker.memoryMb('VmRSS');
    await delay(idleMs);
    return { startMs: worker.startMs, atStartMb, idleMb: worker.memoryMb('VmRSS'), peakMb: worker.memoryMb('VmHWM') };
  } finally {
    await worker.stop();
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main() {
  const infra = await installInfra();
  const dir = mkdtempSync(join(tmpdir(), 'bench-worker-'));
  const temporal = await startTemporalDevServer(join(dir, 'temporal'), infra, { headless: true });
  const controlPlane = await startControlPlane(join(dir, 'kube'), infra);
  try {
    const env = {
      PATH: process.env.PATH,
      TEMPORAL_ADDRESS: temporal.address,
      TASK_QUEUE: 'bench-footprint',
      KUBECONFIG: controlPlane.kubeconfig,
      WORKFLOW_BUNDLE: join(repoRoot(), 'dist/workflow-bundle.js'),
      METRICS_ADDRESS: `127.0.0.1:${await freePort()}`,
    };
    const runs = [];
    for (let i = 1; i <= STARTS; i++) {
      // The first start pays the cold file cache; each is a fresh process, as a pod restart is.
      const run = await startOnce(env, IDLE_MS);
      runs.push(run);
      console.log(
        `start ${i}: RUNNING after ${Math.round(run.startMs)} ms; RSS ${run.atStartMb.toFixed(0)} MB then, ${run.idleMb.toFixed(0)} MB after ${IDLE_MS / 1000} s idle (peak ${run.peakMb.toFixed(0)} MB)`,
      );
    }
    const startMs = median(runs.map((r) => r.startMs));
    const idleMb = median(runs.map((r) => r.idleMb));
    console.log(`\nmedian start to polling: ${Math.round(startMs)} ms = ${(startMs / START_GOAL_MS).toFixed(2)} × the 3 s goal`);
    console.log(`median idle RSS: ${idleMb.toFixed(0)} MB = ${(idleMb / IDLE_RSS_GOAL_MB).toFixed(2)} × the 250 MB goal`);
  } finally {
    await controlPlane.stop();
    await temporal.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
