import { Client, Connection } from '@temporalio/client';
import { freePort } from '../../lab/process.js';
import { testEnv } from '../helpers/env.js';
import { eventually, TestCluster, uniqueName } from '../helpers/kube.js';
import { spawnBuiltWorker } from '../helpers/temporal.js';

// The built worker as production runs it: prebuilt bundle, JSON logs, Prometheus metrics, SIGTERM.
test('the built worker serves workflows from the prebuilt bundle, exports metrics, logs JSON, and stops on SIGTERM', async () => {
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
