import { readFileSync } from 'node:fs';
import { join } from 'node:path';
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
