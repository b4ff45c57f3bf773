import type { Client, WorkflowFailedError, WorkflowHandle } from '@temporalio/client';
import { rollingLeaseName } from '../../src/activities/kube/lease.js';
import { FailureType } from '../../src/failures.js';
import type { Progress } from '../../src/schemas/progress.js';
import { nodeMaintenance } from '../../src/workflows/node-maintenance.js';
import { sriovRollout } from '../../src/workflows/sriov-rollout.js';
import { startTestGitOps } from '../helpers/gitops.js';
import type { TestGitOps } from '../helpers/gitops.js';
import { eventually, TestCluster, uniqueName } from '../helpers/kube.js';
import { TEST_LEASE_NAMESPACE } from '../helpers/env.js';
import { devServerWorker } from '../helpers/temporal.js';

// One rolling operation per cluster, whatever its kind, decided by the API server on the cluster's Lease.
// On the dev server in real time: the time-skipping server would run an idle holder's clock out.
const taskQueue = uniqueName('lock');
let cluster: TestCluster;
let gitops: TestGitOps;
let client: Client;
let stopWorker: () => Promise<void>;

beforeAll(async () => {
  cluster = await TestCluster.create('lock');
  gitops = await startTestGitOps(cluster);
  const worker = await devServerWorker(taskQueue, { kube: cluster.kube, gitops: gitops.deps });
  client = worker.client;
  stopWorker = worker.stop;
}, 180_000);
afterAll(async () => {
  await stopWorker?.();
  await gitops?.stop();
  await cluster?.close();
});

/** Each holds the cluster once it has the lock: the rollout at its approval, the maintenance on its done. */
function startMixed(clusterName: string, i: number): Promise<WorkflowHandle> {
  const workflowId = uniqueName(`lock-${i}`);
  if (i % 2 === 0) {
    const input = gitops.rolloutInput({ cluster: clusterName, approval: 'once' });
    return client.workflow.start(sriovRollout, { taskQueue, workflowId, args: [input] });
  }
  const input = {
    cluster: clusterName,
    nodes: [gitops.dgxNodes[0]!],
    reason: 'lock test',
    until: 'done-signal' as const,
    settleSeconds: 0,
    healthGate: { fluxNamespace: '' },
  };
  return client.workflow.start(nodeMaintenance, { taskQueue, workflowId, args: [input] });
}

const holding = async (handle: WorkflowHandle) => {
  const { phase, steps } = await handle.query<Progress>('progress');
  return phase.startsWith('awaiting approval') || steps.some((s) => s.message?.startsWith('maintenance:'));
};
const leaseHolder = async (clusterName: string) =>
  (await cluster.kube.coordination.readNamespacedLease({ name: rollingLeaseName(clusterName), namespace: TEST_LEASE_NAMESPACE })).spec?.holderIdentity;

test('ten concurrent starts of mixed rolling operations: exactly one runs, nine are refused naming it; a terminated holder does not keep the lock', async () => {
  const clusterName = uniqueName('busy');
  const handles = await Promise.all(Array.from({ length: 10 }, (_, i) => startMixed(clusterName, i)));
  // Polled, not awaited: the winner's result never comes while it holds the cluster.
  const outcomes = await Promise.all(
    handles.map((handle) =>
      eventually(
        async () => {
          if ((await handle.describe()).status.name === 'FAILED') {
            const failure = await handle.result().then(
              () => undefined,
              (error: unknown) => (error as WorkflowFailedError).cause as { type?: string; message: string },
            );
            return { handle, failure };
          }
          return (await holding(handle)) && { handle, failure: undefined };
        },
        'the run to hold the cluster or fail',
        60_000,
      ),
    ),
  );
  const winners = outcomes.filter((o) => !o.failure);
  expect(winners).toHaveLength(1);
  const winner = winners[0]!.handle;
  expect(await leaseHolder(clusterName)).toBe(winner.workflowId);
  const refused = outcomes.filter((o) => o.failure).map((o) => o.failure!);
  expect(refused).toHaveLength(9);
  for (const failure of refused) {
    expect(failure.type).toBe(FailureType.ClusterBusy);
    expect(failure.message).toContain(`${winner.workflowId} (run `);
  }

  // A holder terminated before it could let go: the next run finds its run closed and takes the Lease over.
  await winner.terminate('test: a holder that never releases');
  const next = await startMixed(clusterName, 1);
  await eventually(() => holding(next), 'the next run to take the lock over', 60_000);
  expect(await leaseHolder(clusterName)).toBe(next.workflowId);
  expect(await next.executeUpdate<string, [string]>('abort', { args: ['test done'] })).toBe('aborting: test done');
  await next.result();
  // However it ends, the run lets the lock go.
  expect(await leaseHolder(clusterName)).toBeFalsy();
});
