import { Client, Connection } from '@temporalio/client';
import { freePort } from '../../lab/process.js';
import { testEnv } from '../helpers/env.js';
import { eventually, TestCluster, uniqueName } from '../helpers/kube.js';
import { spawnBuiltWorker } from '../helpers/temporal.js';

// The built worker as production runs it: prebuilt bundle, JSON logs, Prometheus metrics, SIGTERM.
test('the built worker serves workflows from the prebuilt bundle, exports the SDK metrics and ours, logs JSON, and stops on SIGTERM', async () => {
  const cluster = await TestCluster.create('worker');
  const client = new Client({ connection: await Connection.connect({ address: testEnv('temporalAddress') }) });
  const taskQueue = uniqueName('worker');
  const metricsPort = await freePort();
  const worker = spawnBuiltWorker(taskQueue, { METRICS_ADDRESS: `127.0.0.1:${metricsPort}` });
  let stdout = '';
  worker.stdout!.on('data', (chunk) => (stdout += chunk));
  const exited = new Promise<number | null>((resolve) => worker.once('exit', resolve));
  try {
    const node = await cluster.addNode();
    const result = await client.workflow.execute('drainNode', {
      taskQueue,
      workflowId: uniqueName('worker-run'),
      args: [{ node, dryRun: true }],
    });
    expect(result).toMatchObject({ outcome: 'planned', node });

    const metrics = await eventually(async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return /temporal_workflow_completed\{[^}]*task_queue="[^"]+"/.test(text) && text;
    }, 'workflow metrics');
    expect(metrics).toMatch(/temporal_workflow_completed/);

    // A real drain held up by a PodDisruptionBudget: one pod evicted, the other blocked until the deadline.
    const drained = await cluster.addNode();
    await cluster.addPod(drained, 'app');
    await cluster.addPod(drained, 'guarded', { app: 'guarded' });
    await cluster.addBlockingPdb('guarded');
    const drain = client.workflow.execute('drainNode', { taskQueue, workflowId: uniqueName('worker-drain'), args: [{ node: drained, timeoutSeconds: 6 }] });
    await expect(drain).rejects.toThrow();
    const series = (text: string, name: string, labels: string) => text.split('\n').filter((line) => line.startsWith(`${name}{`) && line.includes(labels));
    const ours = await eventually(async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return series(text, 'cluster_ops_evictions_blocked_total', `node="${drained}"`).length > 0 && text;
    }, 'operation metrics');
    const value = (line: string | undefined) => Number(line?.split(' ').at(-1));
    expect(value(series(ours, 'cluster_ops_evictions_total', `node="${drained}"`)[0])).toBe(1);
    expect(value(series(ours, 'cluster_ops_evictions_blocked_total', `node="${drained}"`)[0])).toBeGreaterThanOrEqual(2);
    const phases = (phase: string, outcome: string) =>
      series(ours, 'cluster_ops_node_phase_seconds_count', `phase="${phase}"`).filter(
        (line) => line.includes(`node="${drained}"`) && line.includes(`outcome="${outcome}"`),
      );
    expect(phases('cordon', 'done').map(value)).toEqual([1]);
    expect(phases('drain', 'failed').map(value)).toEqual([1]);
    // Our buckets, not the SDK's default ones (which end at 10 s): a drain lasts minutes.
    expect(series(ours, 'cluster_ops_node_phase_seconds_bucket', `node="${drained}"`).some((line) => line.includes('le="600"'))).toBe(true);
    expect(ours).toMatch(new RegExp(`cluster_ops_node_phase_seconds_count\\{[^}]*workflowType="drainNode"`));
  } finally {
    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
    await client.connection.close();
    await cluster.close();
  }
  const lines = stdout.trim().split('\n').filter(Boolean);
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) expect(JSON.parse(line)).toMatchObject({ level: expect.any(String), message: expect.any(String) });
}, 60_000);
