import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { NativeConnection } from '@temporalio/worker';
import { repoRoot } from '../lab/repo-root.js';
import type { KubeClients } from '../src/activities/kube/clients.js';
import { createWorker } from '../src/worker.js';

/** A worker in the bench's own process on the prebuilt bundle (`npm run build`), as production loads it. */
export function builtBundleWorker(connection: NativeConnection, taskQueue: string, kube: KubeClients) {
  return createWorker({ connection, namespace: 'default', taskQueue, deps: { kube }, workflowBundlePath: join(repoRoot(), 'dist/workflow-bundle.js') });
}

/** A /proc/<pid>/status field in MB (VmRSS: now; VmHWM: the peak so far). */
export function memoryMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  return Number(line?.split(/\s+/)[1] ?? NaN) / 1024;
}

/**
 * `node dist/src/worker.js` as a pod runs it, with `env`; resolves once the SDK logs RUNNING (at INFO), with the
 * milliseconds from spawn. `onLine` sees every other log line.
 */
export async function startWorkerProcess(env: NodeJS.ProcessEnv, onLine: (line: string) => void = () => undefined) {
  const started = performance.now();
  const worker = spawn(process.execPath, [join(repoRoot(), 'dist/src/worker.js')], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const startMs = await new Promise<number>((resolve, reject) => {
    worker.once('exit', (code) => reject(new Error(`worker exited with ${code} before it was RUNNING`)));
    createInterface({ input: worker.stdout! }).on('line', (line) => {
      if (line.includes('"message":"Worker state changed"') && line.includes('"state":"RUNNING"')) resolve(performance.now() - started);
      else onLine(line);
    });
  });
  return {
    startMs,
    memoryMb: (field: 'VmRSS' | 'VmHWM') => memoryMb(worker.pid!, field),
    stop: async () => {
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.kill('SIGTERM');
      await exited;
    },
  };
}
