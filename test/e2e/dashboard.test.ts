import type { ChildProcess } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import { freePort } from '../../lab/process.js';
import { LINE_RATE_GBPS } from '../../src/domain/nccl/summary.js';
import { ncclJobId } from '../../src/schemas/nccl-job.js';
import type { NcclJobInput } from '../../src/schemas/nccl-job.js';
import type { ncclJob } from '../../src/workflows/nccl-job.js';
import type { rotateOidcClient } from '../../src/workflows/rotate-oidc-client.js';
import { testEnv } from '../helpers/env.js';
import { createTestClient } from '../helpers/keycloak.js';
import { eventually, uniqueName } from '../helpers/kube.js';
import { kubectl } from '../helpers/manifests.js';
import { NCCL_FAILURE_LOG, ncclTestCluster, SPARK_RUN_LOG } from '../helpers/nccl.js';
import { startOidcTestBed } from '../helpers/oidc.js';
import { spawnBuiltWorker } from '../helpers/temporal.js';
import { fileWorld } from '../helpers/world.js';

// The dashboard as deployed (the ConfigMap kustomize renders), its every query run in the real VictoriaMetrics
// on what a lab-like run leaves there: the built worker's scrape after two drains (one held by a
// PodDisruptionBudget until its deadline), a rotation against the real Keycloak, and an NCCL benchmark whose
// first attempt fails (its attempts by cause in the scrape, its results pushed by the run).
const world = fileWorld('e2e-dashboard', (cluster) => startOidcTestBed(cluster), 420_000);

interface Target {
  refId: string;
  expr: string;
  instant?: boolean;
  datasource: { type: string; uid: string };
}
interface Panel {
  title: string;
  datasource: { type: string; uid: string };
  targets: Target[];
  fieldConfig: { defaults: { thresholds?: { steps: { value: number | null }[] } } };
}
interface Dashboard {
  templating: { list: { name: string; type: string; query: string }[] };
  panels: Panel[];
}

/** The dashboard JSON inside the ConfigMap that `kubectl kustomize manifests` renders. */
async function deployedDashboard(): Promise<Dashboard> {
  const documents = parseAllDocuments(await kubectl(['kustomize', 'manifests'])).map((doc) => doc.toJS() as Record<string, never>);
  const configMap = documents.find((d) => d.kind === 'ConfigMap' && (d.metadata as { labels?: Record<string, string> }).labels?.grafana_dashboard === '1');
  const files = Object.values((configMap as { data?: Record<string, string> } | undefined)?.data ?? {});
  expect(files).toHaveLength(1);
  return JSON.parse(files[0]!) as Dashboard;
}

// What Grafana puts in for its built-in variables, for a dashboard showing the last 10 minutes in 15 s steps.
const RANGE_SECONDS = 600;
const STEP_SECONDS = 15;
const grafanaVariables = (expr: string) =>
  expr.replaceAll('$__rate_interval', '1m').replaceAll('$__interval', `${STEP_SECONDS}s`).replaceAll('$__range', `${RANGE_SECONDS}s`);

test('every panel query of the Grafana dashboard answers with series in the real VictoriaMetrics after a lab-like run', async () => {
  const { bed, client, cluster } = world;
  const victoriaMetrics = testEnv('victoriaMetrics');
  // Every series of this run carries job=<run>: the NCCL results by their job name, the worker's scrape as a
  // scrape job label, so that the queries see this run's data only (the VictoriaMetrics is the test run's).
  const run = uniqueName('dashboard');
  const taskQueue = uniqueName('dashboard');
  const metricsPort = await freePort();
  const worker: ChildProcess = spawnBuiltWorker(taskQueue, {
    METRICS_ADDRESS: `127.0.0.1:${metricsPort}`,
    VICTORIA_METRICS_URL: victoriaMetrics,
    ...bed.workerEnv(),
  });
  const exited = new Promise<number | null>((resolve) => worker.once('exit', resolve));
  const nccl = await ncclTestCluster('e2e-dashboard-nccl');
  try {
    const keycloakClient = await createTestClient('dash');
    const target = await bed.target(keycloakClient);
    await eventually(() => bed.consumerSecret(target), `first sync of ${target.externalSecret.name}`);
    const [drained, held] = [await cluster.addNode(), await cluster.addNode()];
    await cluster.addPod(drained, 'app');
    await cluster.addPod(held, 'guarded', { app: 'guarded' });
    await cluster.addBlockingPdb('guarded');
    nccl.runner.script(run, [
      { kind: 'fail', log: NCCL_FAILURE_LOG, exitCode: 3 },
      { kind: 'complete', log: SPARK_RUN_LOG },
    ]);
    const benchmark: NcclJobInput = {
      name: run,
      kind: 'benchmark',
      namespace: nccl.cluster.namespace,
      nodes: nccl.nodes,
      image: 'registry.invalid/nccl-tests:2.18.3',
      pollSeconds: 1,
      benchmark: { test: 'all_gather_perf' },
      failurePolicy: [{ causes: ['nccl-error'], action: 'retryNow', retries: 1 }],
    };
    const [drain, heldDrain, rotation, ncclRun] = await Promise.allSettled([
      client.workflow.execute('drainNode', { taskQueue, workflowId: uniqueName('dashboard-drain'), args: [{ node: drained, timeoutSeconds: 30 }] }),
      client.workflow.execute('drainNode', { taskQueue, workflowId: uniqueName('dashboard-held'), args: [{ node: held, timeoutSeconds: 6 }] }),
      client.workflow.execute<typeof rotateOidcClient>('rotateOidcClient', {
        taskQueue,
        workflowId: uniqueName('dashboard-rotate'),
        args: [{ client: target, policy: { soakSeconds: 2, ensureClientPolicy: true, clientPolicy: { graceSeconds: 3600 } } }],
      }),
      client.workflow.execute<typeof ncclJob>('ncclJob', { taskQueue, workflowId: ncclJobId(run), args: [benchmark] }),
    ]);
    expect([drain.status, heldDrain.status, rotation.status, ncclRun.status]).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(rotation.status === 'fulfilled' && rotation.value.outcome).toBe('rotated');
    expect(ncclRun.status === 'fulfilled' && [ncclRun.value.metricsPushed, ncclRun.value.attempts.map((a) => a.cause ?? a.outcome)]).toEqual([
      true,
      ['nccl-error', 'succeeded'],
    ]);

    // The worker's scrape once it holds what the runs record, imported as vmagent would store it.
    const scrape = await eventually(async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return (
        text.includes('cluster_ops_oidc_last_rotation_timestamp_seconds{') &&
        /temporal_workflow_failed\{[^}]*drainNode/.test(text) &&
        /cluster_ops_nccl_attempts_total\{[^}]*cause="nccl-error"/.test(text) &&
        text
      );
    }, 'the runs in the worker scrape');
    const imported = await fetch(`${victoriaMetrics}/api/v1/import/prometheus?${new URLSearchParams({ extra_label: `job=${run}` })}`, {
      method: 'POST',
      body: scrape,
    });
    expect(imported.status).toBe(204);
    await fetch(`${victoriaMetrics}/internal/force_flush`);

    const dashboard = await deployedDashboard();
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }));
    const line = dashboard.panels.find((p) => p.title.startsWith('NCCL busbw'));
    expect(line?.fieldConfig.defaults.thresholds?.steps.map((s) => s.value)).toContain(LINE_RATE_GBPS);

    const now = Math.ceil(Date.now() / 1000) + 1;
    // As Grafana asks: an instant query at the range's end, or a range query over it.
    const query = async ({ expr, instant }: Pick<Target, 'expr' | 'instant'>) => {
      const window: Record<string, string> = instant
        ? { time: String(now) }
        : { start: String(now - RANGE_SECONDS), end: String(now), step: `${STEP_SECONDS}s` };
      const params = new URLSearchParams({ query: grafanaVariables(expr), extra_label: `job=${run}`, nocache: '1', ...window });
      const response = await fetch(`${victoriaMetrics}/api/v1/${instant ? 'query' : 'query_range'}?${params}`);
      return (await response.json()) as { status: string; error?: string; data?: { result: unknown[] } };
    };
    // The import is readable a moment after the flush: wait until it is, then ask each query once.
    await eventually(async () => (await query({ expr: 'cluster_ops_runs_started_total' })).data?.result.length, 'the scrape in VictoriaMetrics');
    const answers: string[] = [];
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        expect([panel.datasource.uid, target.datasource.uid]).toEqual(['${datasource}', '${datasource}']);
        const answer = await query(target);
        answers.push(`${panel.title} ${target.refId}: ${answer.status === 'success' ? `${answer.data!.result.length} series` : `${answer.error}`}`);
      }
    }
    console.log(`dashboard queries checked: ${answers.length}\n${answers.join('\n')}`);
    expect(answers.filter((a) => !/: [1-9]\d* series$/.test(a))).toEqual([]);
    expect(answers.length).toBeGreaterThanOrEqual(dashboard.panels.length);
  } finally {
    worker.kill('SIGTERM');
    await exited;
    await nccl.close();
  }
}, 300_000);
