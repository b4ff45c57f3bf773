import type { Client } from '@temporalio/client';
import { ncclJobId } from '../../src/schemas/nccl-job.js';
import type { NcclJobInput } from '../../src/schemas/nccl-job.js';
import type { Progress } from '../../src/schemas/progress.js';
import type { ncclJob } from '../../src/workflows/nccl-job.js';
import { uniqueName } from '../helpers/kube.js';
import { ncclFixture, ncclTestCluster } from '../helpers/nccl.js';
import { devServerWorker } from '../helpers/temporal.js';

// A training job on the Temporal dev server (real time, no skipping) against the real API server: the
// simulated NCCL runner saves a checkpoint, then a node is lost; the second attempt must resume from it.
let lab: Awaited<ReturnType<typeof ncclTestCluster>>;
let client: Client;
let stopWorker: () => Promise<void>;
const taskQueue = uniqueName('e2e-nccl');

beforeAll(async () => {
  lab = await ncclTestCluster('e2e-nccl');
  const worker = await devServerWorker(taskQueue, lab.deps);
  client = worker.client;
  stopWorker = worker.stop;
}, 120_000);
afterAll(async () => {
  await stopWorker?.();
  await lab?.close();
});

test('a training job that loses a node resumes from the newest checkpoint on the next attempt, and leaves nothing behind', async () => {
  const name = uniqueName('train');
  const claim = `${name}-checkpoints`;
  const trainingLog = 'step 100 loss 2.31\nsaved checkpoint ckpt-000100\nstep 200 loss 1.97\nsaved checkpoint ckpt-000200\n';
  // Each attempt's bandwidth preflight sees a fast link (a real 2x8 H100 all_reduce, 338 GB/s).
  lab.runner.script(`${name}-preflight`, [{ kind: 'complete', log: ncclFixture('all_reduce-2nodes-8xH100.txt') }]);
  lab.runner.script(name, [
    { kind: 'node-loss', log: trainingLog, recoverAfterMs: 3_000, checkpoints: ['ckpt-000100', 'ckpt-000200'] },
    { kind: 'complete', log: `${trainingLog}step 300 loss 1.71\ndone\n`, checkpoints: ['ckpt-000300'] },
  ]);
  const input: NcclJobInput = {
    name,
    kind: 'training',
    namespace: lab.cluster.namespace,
    nodes: lab.nodes,
    image: 'registry.invalid/pytorch:25.01',
    training: { command: ['train.py', '--epochs', '3'], checkpointClaim: claim },
    pollSeconds: 1,
    hangSeconds: 60,
    retry: { initialBackoffSeconds: 1 },
  };
  const handle = await client.workflow.start<typeof ncclJob>('ncclJob', { taskQueue, workflowId: ncclJobId(name), args: [input] });
  const result = await handle.result();

  expect(result.outcome).toBe('succeeded');
  expect(result.attempts.map((a) => [a.outcome, a.cause ?? null, a.resumedFrom ?? null, a.preflight?.passed])).toEqual([
    ['failed', 'node-lost', null, true],
    ['succeeded', null, '/checkpoints/ckpt-000200', true],
  ]);
  // What the pods of each attempt were really given (RESUME_FROM), as the simulated runner saw it.
  expect(lab.runner.played.filter((p) => p.job === name).map((p) => p.resumeFrom ?? null)).toEqual([null, '/checkpoints/ckpt-000200']);
  const progress = await handle.query<Progress>('progress');
  expect(progress.steps.find((s) => s.name === 'attempt 2')?.message).toBe('succeeded');
  expect([await lab.leftovers(name), await lab.leftovers(`${name}-preflight`)]).toEqual([[], []]);
  // The checkpoint claim holds the training's progress: it stays.
  const pvc = await lab.cluster.kube.core.readNamespacedPersistentVolumeClaim({ name: claim, namespace: lab.cluster.namespace });
  expect(pvc.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('cluster-ops');
}, 180_000);
