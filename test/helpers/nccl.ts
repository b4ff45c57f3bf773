import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedNcclRunner } from '../../lab/sim/nccl-runner.js';
import type { ActivityDeps } from '../../src/activities/index.js';
import { NCCL_JOB_LABEL } from '../../src/activities/nccl/manifests.js';
import { testEnv } from './env.js';
import { TestCluster } from './kube.js';

/** Real NCCL outputs (test/fixtures/nccl/README.md); a DGX Spark run's rank 0 log is its debug lines then the table. */
export const ncclFixture = (name: string) => readFileSync(join('test/fixtures/nccl', name), 'utf8');
export const SPARK_RUN_LOG = ncclFixture('nccl-debug-2xDGX-Spark.log') + ncclFixture('all_gather-2xDGX-Spark-degraded.txt');
/** The run's start, then the failure lines nccl-tests prints (format from its common.cu, see the fixtures README). */
export const NCCL_FAILURE_LOG =
  SPARK_RUN_LOG.split('\n').slice(0, 18).join('\n') +
  "\nspark-fb97: Test NCCL failure common.cu:1125 'remote process exited or there was a network error / '\n .. spark-fb97 pid 548805: Test failure common.cu:1034\n";

/** One test file's cluster share with two simulated DGX Sparks, the simulated NCCL runner and the activity deps. */
export async function ncclTestCluster(prefix: string) {
  const cluster = await TestCluster.create(prefix);
  const nodes = [await cluster.addNode(), await cluster.addNode()];
  const dataDir = mkdtempSync(join(tmpdir(), 'nccl-runner-'));
  const runner = new SimulatedNcclRunner(cluster.kube, cluster.namespace, dataDir);
  const deps: ActivityDeps = { kube: cluster.kube, metrics: { url: testEnv('victoriaMetrics') } };
  /** Jobs, Services and pods of a job still in the namespace. */
  const leftovers = async (name: string) => {
    const labelSelector = `${NCCL_JOB_LABEL}=${name}`;
    const [jobs, services, pods] = await Promise.all([
      cluster.kube.batch.listNamespacedJob({ namespace: cluster.namespace, labelSelector }),
      cluster.kube.core.listNamespacedService({ namespace: cluster.namespace, labelSelector }),
      cluster.kube.core.listNamespacedPod({ namespace: cluster.namespace, labelSelector }),
    ]);
    return [...jobs.items, ...services.items, ...pods.items].map((o) => `${o.kind ?? ''}${o.metadata!.name}`);
  };
  return {
    cluster,
    nodes,
    runner,
    deps,
    leftovers,
    close: async () => {
      await runner.stop();
      await cluster.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
