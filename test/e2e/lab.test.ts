import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { kubeClients, loadKubeConfig } from '../../src/activities/kube/clients.js';
import { DrainNodeInput } from '../../src/schemas/drain-node.js';
import { drainNodeMetadata } from '../../src/schemas/run-metadata.js';
import { freePort } from '../../lab/process.js';
import { testEnv } from '../helpers/env.js';
import { eventually } from '../helpers/kube.js';

const run = promisify(execFile);

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('npm run lab brings up the UI, three Ready nodes and a worker, and leaves nothing behind when stopped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lab-'));
  const [temporalPort, uiPort, metricsPort, keycloakPort, gitPort, fluxStoragePort, workerMetricsPort, jaegerPort, jaegerOtlpPort] = await Promise.all(
    Array.from({ length: 9 }, freePort),
  );
  const address = `127.0.0.1:${temporalPort}`;
  const lab = spawn(process.execPath, ['dist/lab/run.js'], {
    env: {
      ...process.env,
      LAB_DIR: dir,
      LAB_TEMPORAL_PORT: String(temporalPort),
      LAB_UI_PORT: String(uiPort),
      LAB_VICTORIA_METRICS_PORT: String(metricsPort),
      LAB_KEYCLOAK_PORT: String(keycloakPort),
      LAB_GIT_PORT: String(gitPort),
      LAB_FLUX_STORAGE_PORT: String(fluxStoragePort),
      LAB_WORKER_METRICS_PORT: String(workerMetricsPort),
      LAB_JAEGER_PORT: String(jaegerPort),
      LAB_JAEGER_OTLP_PORT: String(jaegerOtlpPort),
    },
  });
  let output = '';
  lab.stdout.on('data', (chunk) => (output += chunk));
  lab.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => lab.once('exit', resolve));
  try {
    await eventually(async () => output.includes('cluster-ops lab is up') || lab.exitCode !== null, 'the lab', 240_000);
    if (lab.exitCode !== null) throw new Error(`the lab exited with ${lab.exitCode} before it was up:\n${output}`);
    expect(output).toContain(`Temporal UI      http://127.0.0.1:${uiPort}`);

    const ui = await eventually(async () => (await fetch(`http://127.0.0.1:${uiPort}/`).catch(() => undefined))?.ok, 'the Web UI');
    expect(ui).toBe(true);

    const kube = kubeClients(loadKubeConfig(join(dir, 'kube', 'kubeconfig')));
    const ready = await eventually(async () => {
      const nodes = await kube.core.listNode();
      const names = nodes.items
        .filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
        .map((n) => n.metadata!.name!)
        .sort();
      return names.length === 3 && names;
    }, 'three Ready nodes');
    expect(ready).toEqual(['talos-76w-3r0', 'talos-7aj-lwl', 'talos-ysi-4k0']);
    // The banner lists them as the API server had them when it printed: kind of machine and readiness.
    expect(output).toMatch(/^ {2}Nodes +talos-76w-3r0 +amd64 \+ RTX 5070 Ti +Ready$/m);
    expect(output).toMatch(/^ {19}talos-7aj-lwl +DGX Spark \+ 4 VFs +Ready$/m);
    expect(output).toMatch(/^ {19}talos-ysi-4k0 +DGX Spark \+ 4 VFs +Ready$/m);
    expect(output).toContain(`Grafana          none in the lab`);
    expect(output).toContain(`Jaeger           http://127.0.0.1:${jaegerPort}/api/traces?service=cluster-ops-worker`);
    // The VFs appear once the real Flux has applied namespaces → crds → base (its own pace: a 30 s
    // dependency requeue per level) and the SR-IOV plugin pod runs. The node registers with 4 already, so
    // the plugin's DaemonSet is waited for too: the rollout below looks it up before anything else.
    const spark = await eventually(
      async () => {
        const [node, plugin] = await Promise.all([
          kube.core.readNode({ name: 'talos-7aj-lwl' }),
          kube.apps.readNamespacedDaemonSet({ namespace: 'kube-system', name: 'sriov-device-plugin' }).catch(() => undefined),
        ]);
        return plugin?.status?.numberReady === 2 && node.status?.allocatable?.['nvidia.com/cx7_qsfp'] === '4' && node;
      },
      'the SR-IOV plugin and VFs on talos-7aj-lwl',
      150_000,
    );
    expect(output).toContain(`served to Flux at http://127.0.0.1:${gitPort}/k8s-config.git`);
    expect(spark.status?.allocatable).toMatchObject({ 'nvidia.com/gpu': '1', 'nvidia.com/cx7_qsfp': '4' });
    expect(spark.metadata?.labels?.['kubernetes.io/arch']).toBe('arm64');

    // The OIDC side: Keycloak launched, the fake Infisical's secrets synced by the real ESO.
    expect(output).toContain(`Keycloak         http://127.0.0.1:${keycloakPort}/admin`);
    expect(output).toContain('External Secrets Operator v0.20.4');
    expect(output).toContain('synced by the real ESO');
    const grafana = await eventually(
      async () => (await kube.core.readNamespacedSecret({ namespace: 'vmks', name: 'grafana-oidc' }).catch(() => undefined))?.data?.['client-secret'],
      'the grafana-oidc Secret',
    );
    expect(Buffer.from(grafana, 'base64').toString()).toBe('lab-grafana-initial-secret');

    // Started the way an operator starts one from a shell: the `temporal` CLI on the lab's task queue.
    const temporalStart = (type: string, workflowId: string, input: string) =>
      run(testEnv('temporalCli'), [
        'workflow',
        'start',
        '--address',
        address,
        '--task-queue',
        'cluster-ops',
        '--type',
        type,
        '--workflow-id',
        workflowId,
        '--input',
        input,
      ]);
    await temporalStart('drainNode', 'lab-dry-run', '{"node":"talos-ysi-4k0","dryRun":true}');
    await run(testEnv('temporalCli'), ['workflow', 'result', '--address', address, '--workflow-id', 'lab-dry-run']);
    const temporalList = await run(testEnv('temporalCli'), ['workflow', 'list', '--address', address]);
    expect(temporalList.stdout).toMatch(/Completed\s+lab-dry-run\s+drainNode/);
    // The lab's worker traces the run into the lab's Jaeger: the run's span, naming its node, over its activities'.
    const traced = new URLSearchParams({ service: 'cluster-ops-worker', operation: 'RunWorkflow:drainNode', tags: '{"cluster_ops.node":"talos-ysi-4k0"}' });
    const trace = await eventually(async () => {
      const { data } = (await (await fetch(`http://127.0.0.1:${jaegerPort}/api/traces?${traced}`)).json()) as {
        data: { spans: { operationName: string }[] }[];
      };
      return data[0];
    }, 'the dry run in Jaeger');
    expect(trace.spans.map((span) => span.operationName)).toContain('RunActivity:planNodeDrain');
    const ours = await run(process.execPath, ['dist/src/client/cli.js', 'list'], { env: { ...process.env, TEMPORAL_ADDRESS: address } });
    expect(ours.stdout).toMatch(/lab-dry-run\s+drainNode\s+COMPLETED/);

    // The banner's own `temporal workflow start`, pasted into a shell: the run gets the summary and plan the
    // Temporal UI shows, as docs/workflows starts it.
    const pasted = output.slice(output.indexOf('Try:')).match(/^ {2}input='.*'\n(?:.*\\\n)+.*$/m)?.[0];
    expect(pasted).toContain('--static-details');
    await run('bash', ['-c', pasted!]);
    const temporal = new Client({ connection: await Connection.connect({ address }) });
    try {
      const description = await temporal.workflow.getHandle('drain-node-talos-7aj-lwl').describe();
      const expected = drainNodeMetadata(DrainNodeInput.parse({ node: 'talos-7aj-lwl', dryRun: true }));
      expect([await description.staticSummary(), await description.staticDetails()]).toEqual([expected.staticSummary, expected.staticDetails]);
    } finally {
      await temporal.connection.close();
    }
    // The lab's VictoriaMetrics scrapes the worker (every 10 s): the drains above are counted there.
    const runsStarted = new URLSearchParams({ query: 'sum(cluster_ops_runs_started_total{workflowType="drainNode"})' });
    await eventually(
      async () => {
        const answer = (await (await fetch(`http://127.0.0.1:${metricsPort}/api/v1/query?${runsStarted}`)).json()) as {
          data: { result: { value: [number, string] }[] };
        };
        return Number(answer.data.result[0]?.value[1] ?? 0) >= 2;
      },
      'both drains counted in the worker metrics VictoriaMetrics scraped',
      60_000,
    );

    // The documented rollout start (docs/workflows/sriov-rollout.md), here pushing straight to the branch.
    await temporalStart('sriovRollout', 'sriov-rollout-willingham-k8s', '{"numVfs":8,"gitops":{"mode":"push"}}');
    const rollout = await run(
      testEnv('temporalCli'),
      ['workflow', 'result', '--address', address, '--workflow-id', 'sriov-rollout-willingham-k8s', '--output', 'json'],
      { timeout: 120_000 },
    );
    expect(rollout.stdout).toContain('"outcome": "completed"');
    for (const name of ['talos-7aj-lwl', 'talos-ysi-4k0']) {
      const node = await kube.core.readNode({ name });
      expect(node.status?.allocatable?.['nvidia.com/cx7_qsfp']).toBe('8');
      expect(node.spec?.unschedulable).toBeFalsy();
    }

    // The documented benchmark start (docs/workflows/nccl-job.md): the simulated runner plays a recorded
    // two-Spark log, the figures land in the lab's VictoriaMetrics.
    const nccl =
      '{"name":"lab-allgather","kind":"benchmark","image":"ghcr.io/example/nccl-tests:2.18.3","pollSeconds":1,"benchmark":{"test":"all_gather_perf"}}';
    await run(process.execPath, ['dist/src/client/cli.js', 'start', 'ncclJob', '--input', nccl], { env: { ...process.env, TEMPORAL_ADDRESS: address } });
    const benchmark = await run(
      testEnv('temporalCli'),
      ['workflow', 'result', '--address', address, '--workflow-id', 'nccl-job-lab-allgather', '--output', 'json'],
      { timeout: 120_000 },
    );
    const result = JSON.parse(benchmark.stdout).closeEvent.workflowExecutionCompletedEventAttributes.result[0];
    expect(result).toMatchObject({ outcome: 'succeeded', metricsPushed: true, summary: { peakBusBwGBps: 2.83 } });
    const query = new URLSearchParams({ 'match[]': 'nccl_busbw_peak_gbps{job="lab-allgather"}', start: '0' });
    // An export over all time sees a new series a few seconds after the flush (VictoriaMetrics' per-day index).
    const exported = await eventually(
      async () => (await (await fetch(`http://127.0.0.1:${metricsPort}/api/v1/export?${query}`)).text()).trim(),
      'the pushed figures in VictoriaMetrics',
    );
    expect(JSON.parse(exported)).toMatchObject({ values: [2.83] });
  } finally {
    // Stopped however the steps above ended; its exit code is checked below, so a failed step reports itself.
    lab.kill('SIGTERM');
    await exited;
  }
  expect(await exited).toBe(0);
  const pids = readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('pids'))
    .flatMap((file) => readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean).map(Number));
  expect(pids.length).toBeGreaterThanOrEqual(6);
  expect(pids.filter(isAlive)).toEqual([]);
}, 480_000);
