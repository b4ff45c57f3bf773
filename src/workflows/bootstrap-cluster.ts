import { condition, patched } from '@temporalio/workflow';
import { proxyRunbookActivities } from './shared/activity-summaries.js';
import { criticalPath, predecessors } from '../domain/flux-graph.js';
import type { FluxGraph } from '../domain/flux-graph.js';
import { BootstrapClusterInput } from '../schemas/bootstrap-cluster.js';
import { QUICK_CALLS, WATCHES } from './shared/activity-options.js';
import { handleCommand } from './shared/commands.js';
import { OperatorControls } from './shared/controls.js';
import { retryKustomizationCommand, skipKustomizationCommand } from './shared/messages.js';
import { rootMessage } from '../failures.js';
import { ProgressTracker } from './shared/progress.js';
import { inputFixedAtStart } from './shared/input.js';
import { operationMetrics } from './shared/metrics.js';

const { readFluxGraph, readFluxGraphFromGit } = proxyRunbookActivities(QUICK_CALLS);
const { reconcileKustomization } = proxyRunbookActivities(WATCHES);

type Phase = 'pending' | 'running' | 'ready' | 'failed' | 'skipped';

export interface KustomizationReport {
  id: string;
  phase: Phase;
  startedAt?: number;
  finishedAt?: number;
  durationMs?: number;
  /** How long kustomize-controller itself took for the revision (status.history lastReconciledDuration). */
  fluxDurationMs?: number;
  message: string;
}

export interface BootstrapClusterResult {
  outcome: 'planned' | 'completed' | 'aborted';
  levels: string[][];
  kustomizations: KustomizationReport[];
  /** The chain that bounded the run, by the durations Flux actually took. */
  criticalPath: { path: string[]; totalMs: number };
  wallMs: number;
  /** Wall time not explained by the critical path: waiting on us, not on Flux. */
  overheadMs: number;
}

/**
 * Brings the cluster up Kustomization by Kustomization in dependsOn order, as parallel as the graph and
 * `parallelism` allow: each one gets a reconcile request as soon as its dependencies (and the parent
 * Kustomization that creates it) are Ready, instead of waiting for Flux's requeue interval. The graph grows
 * when a parent applies new Kustomizations. A failure blocks only its dependents; when nothing else can
 * run, the workflow waits for the operator: `retryKustomization <name>` (fetches the source again first),
 * `skipKustomization <name>`, `abort`.
 */
export async function bootstrapCluster(rawInput: BootstrapClusterInput): Promise<BootstrapClusterResult> {
  // A namespace that does not exist holds no Kustomizations: the run would finish with nothing done.
  const input = await inputFixedAtStart(BootstrapClusterInput, rawInput, ({ namespace }) => [{ field: 'input.namespace', kind: 'Namespace', name: namespace }]);
  const progress = new ProgressTracker('bootstrap-cluster', []);
  const controls = new OperatorControls(progress);
  const requests: { kind: 'retry' | 'skip'; id: string }[] = [];
  const reports = new Map<string, KustomizationReport>();
  const idOf = (name: string) => (name.includes('/') ? name : `${input.namespace}/${name}`);
  // Commands arrive from outside: the name is checked at run time whatever its declared type.
  const operatorRequest = (kind: 'retry' | 'skip') => ({
    reject: (name: unknown) => {
      if (typeof name !== 'string' || name === '') return 'name the Kustomization: <name> or <namespace>/<name>';
      const report = reports.get(idOf(name));
      if (!report) return `no Kustomization ${idOf(name)} in this run`;
      if (requests.some((r) => r.id === report.id)) return `${report.id} already has a ${kind} queued`;
      return report.phase === 'failed' ? undefined : `${report.id} has not failed (it is ${report.phase})`;
    },
    apply: (name: string) => {
      requests.push({ kind, id: idOf(name) });
      return `${kind === 'retry' ? 'retrying' : 'skipping'} ${idOf(name)}`;
    },
  });
  handleCommand(retryKustomizationCommand, operatorRequest('retry'));
  handleCommand(skipKustomizationCommand, operatorRequest('skip'));

  progress.phase = 'reading the graph';
  let graph: FluxGraph =
    input.graphSource === 'git'
      ? await readFluxGraphFromGit({ ref: input.gitRef, cluster: input.cluster, entryPath: input.entryPath })
      : await readFluxGraph({ namespace: input.namespace });
  const nodeById = new Map<string, FluxGraph['nodes'][number]>();
  /** Takes in a (re)read graph: Kustomizations not seen before join as pending, those Flux holds back as skipped. */
  const adopt = (next: FluxGraph) => {
    graph = next;
    for (const node of next.nodes) nodeById.set(node.id, node);
    for (const id of next.levels.flat()) {
      if (reports.has(id)) continue;
      reports.set(id, { id, phase: 'pending', message: '' });
      progress.addStep(id);
    }
    for (const { id, reason } of next.heldBack) {
      if (reports.has(id)) continue;
      reports.set(id, { id, phase: 'skipped', message: `held back: ${reason}` });
      progress.addStep(id);
      progress.step(id, 'skipped', `held back: ${reason}`);
    }
  };
  adopt(graph);
  const started = Date.now();
  const result = (outcome: BootstrapClusterResult['outcome']): BootstrapClusterResult => {
    const durations = Object.fromEntries([...reports.values()].map((r) => [r.id, r.fluxDurationMs ?? r.durationMs ?? 0]));
    const path = criticalPath(graph, durations);
    const wallMs = Date.now() - started;
    progress.phase = outcome;
    return { outcome, levels: graph.levels, kustomizations: [...reports.values()], criticalPath: path, wallMs, overheadMs: Math.max(wallMs - path.totalMs, 0) };
  };
  if (input.dryRun) return result('planned');

  const set = (id: string, phase: Phase, message: string) => {
    const report = reports.get(id)!;
    Object.assign(report, { phase, message });
    if (phase === 'running') report.startedAt = Date.now();
    if (phase === 'ready' || phase === 'failed') {
      report.finishedAt = Date.now();
      report.durationMs = report.finishedAt - (report.startedAt ?? report.finishedAt);
      operationMetrics.kustomizationReconcile({ kustomization: id, outcome: phase }, report.startedAt ?? report.finishedAt);
    }
    progress.step(id, phase === 'ready' ? 'done' : phase, message);
  };
  const ready = (id: string) => reports.get(id)?.phase === 'ready';
  // The graph's own edges: dependsOn, and the parent that applies a child (when the run knows that parent).
  const needs = (id: string) => predecessors(nodeById.get(id)!, (other) => nodeById.has(other));
  const runnable = () => graph.levels.flat().filter((id) => reports.get(id)!.phase === 'pending' && needs(id).every(ready));
  const retried = new Set<string>();
  const growsWithChildren = patched('bootstrap-cluster-children');
  const running = new Map<string, Promise<void>>();
  // Flux itself never reconciles a Kustomization whose dependency is not Ready, so skipping one gives
  // up on everything that depends on it, too.
  const skipWithDependents = (id: string, why: string) => {
    set(id, 'skipped', why);
    for (const node of graph.nodes) {
      if (needs(node.id).includes(id) && reports.get(node.id)?.phase === 'pending') skipWithDependents(node.id, `depends on skipped ${id}`);
    }
  };

  const start = (id: string) => {
    const node = nodeById.get(id)!;
    if (node.suspend && !input.resumeSuspended) return skipWithDependents(id, 'suspended');
    set(id, 'running', 'reconcile requested');
    const run = reconcileKustomization({
      namespace: node.namespace,
      name: node.name,
      timeoutSeconds: input.kustomizationTimeoutSeconds,
      resume: node.suspend,
      // After a failure the operator has usually pushed a fix: fetch it before reconciling again.
      withSource: retried.has(id),
    })
      .then(
        async (done) => {
          reports.get(id)!.fluxDurationMs = done.fluxDurationMs;
          if (growsWithChildren && done.children.some((child) => !nodeById.has(child))) adopt(await readFluxGraph({ namespace: input.namespace }));
          set(id, 'ready', done.message);
        },
        (error: unknown) => set(id, 'failed', rootMessage(error)),
      )
      .finally(() => running.delete(id));
    running.set(id, run);
  };

  progress.phase = 'reconciling';
  for (;;) {
    while (requests.length > 0) {
      const request = requests.shift()!;
      const report = reports.get(request.id);
      if (!report || report.phase !== 'failed') continue;
      if (request.kind === 'retry') {
        retried.add(request.id);
        set(request.id, 'pending', 'retry requested');
      } else {
        skipWithDependents(request.id, 'skipped by operator');
      }
    }
    if (await controls.checkpoint()) break;
    for (const id of runnable().slice(0, input.parallelism - running.size)) start(id);
    if (running.size > 0) {
      await Promise.race([...running.values()]);
      continue;
    }
    if ([...reports.values()].every((r) => r.phase === 'ready' || r.phase === 'skipped')) return result('completed');
    // Nothing can run: a failure blocks the rest. Wait for the operator.
    const failed = [...reports.values()].filter((r) => r.phase === 'failed').map((r) => r.id);
    progress.phase = `waiting for the operator: failed ${failed.join(', ')} (send retryKustomization, skipKustomization or abort)`;
    await condition(() => requests.length > 0 || controls.aborted || controls.paused);
    progress.phase = 'reconciling';
  }
  await Promise.all(running.values());
  return result('aborted');
}
