// Benchmark: rolling at fleet size. nodeMaintenance (the hold a short fixed time) over 200 KWOK nodes with
// maxUnavailable 10, each node carrying pods of Deployments guarded by PodDisruptionBudgets, on a real
// control plane and a real Temporal dev server, with the production worker process (`node dist/src/worker.js`,
// the prebuilt bundle). Prints, from this one run:
//   - total / ideal, where ideal = ceil(nodes / maxUnavailable) × the measured single-node time (goal ≤ 1.25);
//   - the serial `kubectl drain` / `uncordon` loop a person would script, with the same checks (same node
//     before and after, Ready before uncordon, every node Ready before the next), against the fleet run
//     (goal ≥ 8× faster). The loop runs over a sample of the nodes and is scaled to the fleet: it is serial,
//     so its time is the sum of its nodes';
//   - the largest history, in events, of the parent and of any child (goal: every history under 10,000);
//   - the worker's peak RSS.
// Asserts nothing. FLEET_NODES, FLEET_KUBECTL_NODES and FLEET_HOLD_SECONDS change the sizes.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import protos from '@temporalio/proto';
import { installInfra } from '../lab/infra/paths.js';
import { startControlPlane } from '../lab/kube/control-plane.js';
import { ensureNode } from '../lab/kube/nodes.js';
import type { SimulatedNode } from '../lab/kube/nodes.js';
import { freePort } from '../lab/process.js';
import { repoRoot } from '../lab/repo-root.js';
import { startTemporalDevServer } from '../lab/temporal.js';
import { kubeClients, loadKubeConfig } from '../src/activities/kube/clients.js';
import type { KubeClients } from '../src/activities/kube/clients.js';
import type { NodeMaintenanceInput } from '../src/schemas/node-maintenance.js';
import { nodeMaintenanceId } from '../src/schemas/node-maintenance.js';
import { startWorkerProcess } from './built-worker.js';

const { EventType } = protos.temporal.api.enums.v1;
const NODES = Number(process.env.FLEET_NODES ?? 200);
const KUBECTL_NODES = Math.min(NODES, Number(process.env.FLEET_KUBECTL_NODES ?? 40));
const HOLD_SECONDS = Number(process.env.FLEET_HOLD_SECONDS ?? 3);
const MAX_UNAVAILABLE = 10;
const SINGLE_NODE_SAMPLES = 3;
/**
 * Two pods per node on average: Deployments of 10 replicas spread over the nodes, each with a PDB allowing 2
 * down at once; a wave of 10 nodes then holds about 20 pods of 40 Deployments, so a few evictions wait for a
 * replacement to be Ready, as on a real fleet.
 */
const REPLICAS = 10;
const PDB_MAX_UNAVAILABLE = 2;
const NAMESPACE = 'fleet';
const TASK_QUEUE = 'bench-fleet';
const GOALS = { totalOverIdeal: 1.25, kubectlOverFleet: 8, historyEvents: 10_000 };

const nodeName = (i: number) => `fleet-${String(i).padStart(3, '0')}`;
const fleetNode = (i: number): SimulatedNode => ({ name: nodeName(i), arch: 'amd64', labels: {}, resources: { cpu: '32', memory: '128Gi', pods: '110' } });

async function until(probe: () => Promise<boolean>, what: string, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(500);
  }
}

/** The fleet: nodes Ready, then Deployments whose pods spread over them, each behind a PDB. */
async function createFleet(kube: KubeClients) {
  for (let i = 0; i < NODES; i += 20) await Promise.all(Array.from({ length: Math.min(20, NODES - i) }, (_, j) => ensureNode(kube.core, fleetNode(i + j))));
  await until(async () => {
    const nodes = (await kube.core.listNode()).items;
    return nodes.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length >= NODES;
  }, 'every node Ready');
  for (const name of [NAMESPACE, 'temporal-system']) await kube.core.createNamespace({ body: { metadata: { name } } });
  const deployments = Math.ceil((NODES * 2) / REPLICAS);
  for (let d = 0; d < deployments; d++) {
    const app = `app-${d}`;
    const labels = { app };
    await kube.apps.createNamespacedDeployment({
      namespace: NAMESPACE,
      body: {
        metadata: { name: app },
        spec: {
          replicas: REPLICAS,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              containers: [{ name: 'app', image: 'registry.example/app:1' }],
              topologySpreadConstraints: [
                { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: labels } },
              ],
            },
          },
        },
      },
    });
    await kube.policy.createNamespacedPodDisruptionBudget({
      namespace: NAMESPACE,
      body: { metadata: { name: app }, spec: { maxUnavailable: PDB_MAX_UNAVAILABLE, selector: { matchLabels: labels } } },
    });
  }
  await until(
    async () => {
      const items = (await kube.apps.listNamespacedDeployment({ namespace: NAMESPACE })).items;
      return items.length === deployments && items.every((d) => d.status?.readyReplicas === REPLICAS);
    },
    `${deployments * REPLICAS} pods Ready`,
  );
  const pdbs = (await kube.policy.listNamespacedPodDisruptionBudget({ namespace: NAMESPACE })).items;
  await until(async () => pdbs.length === deployments, 'PDBs');
  return { deployments, pods: deployments * REPLICAS };
}

function maintenance(cluster: string, nodes: string[], maxUnavailable: number): NodeMaintenanceInput {
  return {
    cluster,
    nodes,
    reason: 'fleet bench',
    maxUnavailable,
    until: 'duration',
    durationSeconds: HOLD_SECONDS,
    rebootExpected: false,
    settleSeconds: 0,
    // Every node in the run Ready after each node, as the loop below checks; no Flux in this cluster.
    healthGate: { nodesReady: true, fluxNamespace: '' },
  };
}

async function timedRun(client: Client, input: NodeMaintenanceInput): Promise<{ ms: number; workflowId: string }> {
  const workflowId = nodeMaintenanceId(input.cluster!);
  const started = performance.now();
  const result = await client.workflow.execute('nodeMaintenance', { taskQueue: TASK_QUEUE, workflowId, args: [input] });
  const ms = performance.now() - started;
  const failed = (result as { nodes: { status: string }[] }).nodes.filter((n) => n.status !== 'maintained');
  if (failed.length > 0) throw new Error(`${failed.length} nodes not maintained in ${workflowId}`);
  return { ms, workflowId };
}

/** Every workflow of the run and its history length (children and their drain grandchildren included). */
async function historySizes(client: Client, parentId: string) {
  const sizes: { workflowId: string; type: string; events: number; ms: number }[] = [];
  for await (const execution of client.workflow.list({ query: `WorkflowId STARTS_WITH "${parentId}"` })) {
    const ms = (execution.closeTime?.getTime() ?? NaN) - execution.startTime.getTime();
    sizes.push({ workflowId: execution.workflowId, type: execution.type, events: execution.historyLength, ms });
  }
  const parent = sizes.filter((s) => s.workflowId === parentId);
  const children = sizes.filter((s) => s.workflowId !== parentId);
  const largest = (list: typeof sizes) => list.reduce((a, b) => (b.events > a.events ? b : a), { workflowId: '-', type: '-', events: 0, ms: 0 });
  const nodeMs = children.filter((c) => c.type === 'maintenanceNode').map((c) => c.ms);
  const slowest = children.filter((c) => c.type === 'maintenanceNode').reduce((a, b) => (b.ms > a.ms ? b : a));
  return { parent: largest(parent), child: largest(children), parentRuns: parent.length, children: children.length, nodeMs, slowest };
}

/** Where the slowest node's time went: its history's steps with their offsets (the drain grandchild's too). */
async function printTimeline(client: Client, workflowId: string) {
  for (const id of [workflowId, `${workflowId}/drain`]) {
    const events = (await client.workflow.getHandle(id).fetchHistory()).events ?? [];
    const at = (e: (typeof events)[number]) => Number(e.eventTime!.seconds) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6);
    const t0 = at(events[0]!);
    const steps = events.map((e) => {
      const name =
        e.activityTaskScheduledEventAttributes?.activityType?.name ?? e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name ?? '';
      return `${((at(e) - t0) / 1000).toFixed(2)} ${EventType[e.eventType!]?.replace('EVENT_TYPE_', '')} ${name}`.trim();
    });
    console.log(`timeline of ${id}:\n  ${steps.join('\n  ')}`);
  }
}

/** What a person would script: drain, hold, Ready again and the same node, uncordon, all nodes Ready; one node at a time. */
function kubectlLoopScript(kubectl: string, nodes: string[]): string {
  return [
    'set -euo pipefail',
    `for node in ${nodes.join(' ')}; do`,
    `  uid=$(${kubectl} get node "$node" -o jsonpath='{.metadata.uid}')`,
    `  ${kubectl} drain "$node" --ignore-daemonsets --timeout=600s >/dev/null`,
    `  sleep ${HOLD_SECONDS}`,
    `  ${kubectl} wait --for=condition=Ready "node/$node" --timeout=1800s >/dev/null`,
    `  [ "$(${kubectl} get node "$node" -o jsonpath='{.metadata.uid}')" = "$uid" ] || { echo "$node was replaced" >&2; exit 1; }`,
    `  ${kubectl} uncordon "$node" >/dev/null`,
    // `kubectl wait nodes --all` would take about 40 s for 200 nodes (one wait per node): one list instead.
    `  for i in $(seq 300); do [ -z "$(${kubectl} get nodes --no-headers | awk '$2 !~ /^Ready/')" ] && break; sleep 1; done`,
    'done',
  ].join('\n');
}

async function runKubectlLoop(dir: string, kubectl: string, kubeconfig: string, nodes: string[]): Promise<number> {
  const script = join(dir, 'kubectl-loop.sh');
  writeFileSync(script, kubectlLoopScript(kubectl, nodes));
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const loop = spawn('bash', [script], { env: { ...process.env, KUBECONFIG: kubeconfig }, stdio: ['ignore', 'inherit', 'inherit'] });
    loop.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`kubectl loop exited with ${code}`))));
  });
  return performance.now() - started;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function main() {
  const infra = await installInfra();
  const dir = mkdtempSync(join(tmpdir(), 'bench-fleet-'));
  const temporal = await startTemporalDevServer(join(dir, 'temporal'), infra, { headless: true });
  const controlPlane = await startControlPlane(join(dir, 'kube'), infra);
  const kube = kubeClients(loadKubeConfig(controlPlane.kubeconfig));
  const client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
  let worker: Awaited<ReturnType<typeof startWorkerProcess>> | undefined;
  try {
    const fleet = await createFleet(kube);
    console.log(
      `fleet: ${NODES} KWOK nodes, ${fleet.pods} pods in ${fleet.deployments} Deployments of ${REPLICAS}, each with a PDB of maxUnavailable ${PDB_MAX_UNAVAILABLE}`,
    );
    worker = await startWorkerProcess(
      {
        PATH: process.env.PATH,
        TEMPORAL_ADDRESS: temporal.address,
        TASK_QUEUE,
        KUBECONFIG: controlPlane.kubeconfig,
        WORKFLOW_BUNDLE: join(repoRoot(), 'dist/workflow-bundle.js'),
        METRICS_ADDRESS: `127.0.0.1:${await freePort()}`,
      },
      // What the worker warns of or fails on shows beside the bench's figures (INFO logs: the SDK says RUNNING at that level).
      (line) => {
        if (line.includes('"level":"ERROR"') || line.includes('"level":"WARN"')) console.error(line);
      },
    );

    const singles: number[] = [];
    for (let i = 0; i < SINGLE_NODE_SAMPLES; i++) singles.push((await timedRun(client, maintenance(`single-${i}`, [nodeName(i)], 1))).ms);
    const single = median(singles);
    console.log(`single node (nodeMaintenance of one node, hold ${HOLD_SECONDS} s): ${singles.map(s).join(', ')}; median ${s(single)}`);

    const nodes = Array.from({ length: NODES }, (_, i) => nodeName(i));
    const fleetRun = await timedRun(client, maintenance('fleet', nodes, MAX_UNAVAILABLE));
    const ideal = Math.ceil(NODES / MAX_UNAVAILABLE) * single;
    const peakMb = worker.memoryMb('VmHWM');
    console.log(
      `fleet: ${NODES} nodes, maxUnavailable ${MAX_UNAVAILABLE}: ${s(fleetRun.ms)}; ideal ${Math.ceil(NODES / MAX_UNAVAILABLE)} × ${s(single)} = ${s(ideal)}`,
    );
    console.log(`total / ideal = ${(fleetRun.ms / ideal).toFixed(2)} (goal ≤ ${GOALS.totalOverIdeal})`);

    const histories = await historySizes(client, fleetRun.workflowId);
    console.log(
      `largest history: parent ${histories.parent.events} events (${histories.parentRuns} run(s)), child ${histories.child.events} (${histories.child.type} ${histories.child.workflowId}) of ${histories.children} children` +
        ` (goal: every history < ${GOALS.historyEvents})`,
    );
    const nodeMs = [...histories.nodeMs].sort((a, b) => a - b);
    console.log(
      `per-node child (maintenanceNode) in the fleet run: p50 ${s(median(nodeMs))}, p90 ${s(nodeMs[Math.floor(nodeMs.length * 0.9)]!)}, max ${s(nodeMs.at(-1)!)}`,
    );
    await printTimeline(client, histories.slowest.workflowId);
    console.log(`worker peak RSS over the whole bench: ${peakMb.toFixed(0)} MB`);

    // The loop runs after the fleet run: every node is uncordoned and its pods have spread again.
    const loopMs = await runKubectlLoop(dir, join(infra.kubeBin, 'kubectl'), controlPlane.kubeconfig, nodes.slice(0, KUBECTL_NODES));
    const perNode = loopMs / KUBECTL_NODES;
    const serial = perNode * NODES;
    console.log(`serial kubectl loop: ${s(loopMs)} over ${KUBECTL_NODES} nodes = ${s(perNode)} per node; ${NODES} nodes ≈ ${s(serial)}`);
    console.log(`serial kubectl loop / fleet run = ${(serial / fleetRun.ms).toFixed(2)} (goal ≥ ${GOALS.kubectlOverFleet})`);
  } finally {
    await worker?.stop();
    await client.connection.close();
    await controlPlane.stop();
    await temporal.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
