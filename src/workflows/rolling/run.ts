import { ApplicationFailure, isCancellation, log, patched, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { proxyRunbookActivities } from '../shared/activity-summaries.js';
import { unmetExpectations } from '../../domain/node.js';
import type { CordonState, NodeExpectation } from '../../domain/node.js';
import { planRollingNodes } from '../../domain/rolling-plan.js';
import type { NodePlanSpec } from '../../domain/rolling-plan.js';
import { FailureType, rootMessage } from '../../failures.js';
import type { RollingPolicy } from '../../schemas/rolling.js';
import { QUICK_CALLS } from '../shared/activity-options.js';
import { OperatorControls } from '../shared/controls.js';
import { nodeProgressSignal } from '../shared/messages.js';
import type { NodeProgressUpdate } from '../shared/messages.js';
import { ProgressTracker } from '../shared/progress.js';
import { rollNodes } from './engine.js';
import type { NodeOutcome } from './engine.js';
import { RollingGates } from './gates.js';
import { withClusterLock } from './lock.js';
import { fitsSearchAttribute, NODES_ATTRIBUTE, OPERATION_ATTRIBUTE } from './search-attributes.js';

const { listNodes } = proxyRunbookActivities(QUICK_CALLS);

/** How a rolling run reports each node; `status` values are the operation's own. */
export interface NodeReport<S extends string> {
  node: string;
  status: S | 'failed' | 'aborted' | 'not-started';
  message: string;
  /** Left cordoned at the end of the run: by an admin before us, or by a failure. */
  leftCordoned: boolean;
  /** Who had cordoned the node before this run (an admin, another run): we never uncordon it. */
  cordonedBefore?: string;
}

export interface RollingRunSpec {
  /** The operation's name in progress, search attributes and the cluster lock, e.g. sriov-rollout. */
  operation: string;
  /** How the final failure names it: "<title> stopped: ...". */
  title: string;
  cluster: string;
  policy: RollingPolicy & { maxUnavailable: number };
  dryRun: boolean;
  /** The operation's own progress rows before the nodes' rows; `plan` comes first and is the skeleton's. */
  steps: string[];
  /** Besides abort, what else stops starting nodes and cancels the ones in progress (a rollback request). */
  alsoStopWhen?: () => boolean;
  /** Told every step a node's child reports (the maintenance run tracks which node is on hold). */
  onNodeProgress?: (update: NodeProgressUpdate) => void;
  /**
   * Past this many history events (or when the server suggests it), the run stops starting nodes, lets the
   * ones in progress finish, and `rolledOver` says so: the workflow then continues as new with `carry()`.
   * Unset: one run, however long.
   */
  historyEventsPerRun?: number;
  /** What the run this one continues had done. */
  continued?: RollingCarry<string>;
}

/** What a rolling run hands to the run that continues it: the nodes it finished, and whether it was paused. */
export interface RollingCarry<S extends string> {
  reports: NodeReport<S>[];
  paused: boolean;
}

/** Runs started before it never continued as new. */
const ROLL_OVER_PATCH = 'rolling-continue-as-new';

export interface RollSpec<R, S extends string> {
  /** The status and report line of a node whose child succeeded. */
  succeeded: (result: R) => { status: S; message: string };
  /** What must still hold on a changed node after the settle time. */
  stillHolds: (node: string) => NodeExpectation;
  /** An approval before a node, after pause and window. */
  approve?: (node: string) => Promise<boolean>;
  /** Runs one node (its child workflow, with the id `childId(node, suffix)`). */
  runNode: (node: string) => Promise<R>;
}

/**
 * The run skeleton every rolling operation shares, so a new one costs its per-node child workflow and a
 * short runbook: progress with a row per node (mirrored from the children), pause/resume/abort, the
 * cluster lock, the per-node plan for the dry run, search attributes, the gated roll over the nodes, the
 * per-node reports with what is left cordoned (read back from the cluster), and the final failure.
 */
export class RollingRun<S extends string> {
  readonly progress: ProgressTracker;
  readonly controls: OperatorControls;
  readonly stopRequested: () => boolean;
  private readonly reports = new Map<string, NodeReport<S>>();
  private gates: RollingGates | undefined;
  /** Set when the roll stopped to continue as new. */
  rolledOver = false;
  /** The nodes the runs this one continues finished: no roll starts them again. */
  private readonly doneEarlier = new Set<string>();
  /** The nodes being worked on now, when the search attribute lists those rather than all (a fleet). */
  private attributeNodes: Set<string> | undefined;

  constructor(private readonly spec: RollingRunSpec) {
    this.progress = new ProgressTracker(spec.operation, ['plan', ...spec.steps]);
    this.controls = new OperatorControls(this.progress);
    this.stopRequested = () => this.controls.aborted || (spec.alsoStopWhen?.() ?? false);
    setHandler(nodeProgressSignal, (update) => {
      // Sent by this run's own children; anything else (a hand-sent signal) must not fail the workflow task.
      if (!this.reports.has(update?.node)) return log.warn(`nodeProgress signal for a node not in this run ignored: ${String(update?.node)}`);
      this.progress.step(`node ${update.node}`, update.phase === 'failed' ? 'failed' : 'running', `${update.step}: ${update.message ?? update.phase}`);
      spec.onNodeProgress?.(update);
    });
    this.progress.phase = 'planning';
    this.progress.step('plan', 'running');
  }

  /** Runs the operation holding the cluster's rolling lock; a dry run changes nothing and takes none. */
  execute<T>(body: () => Promise<T>): Promise<T> {
    return this.spec.dryRun ? body() : withClusterLock(this.spec.cluster, this.spec.operation, body);
  }

  /** The child workflow id of a node: one per run, node and pass (a rollback is a second pass). */
  childId(node: string, suffix = ''): string {
    return `${workflowInfo().workflowId}/${node}${suffix}`;
  }

  /**
   * Fixes the run's nodes: the per-node plan (window, steps, hooks, gates in the order they run), a
   * progress row and a report per node, and the search attributes that find the run by node.
   */
  planNodes(nodes: string[], node: NodePlanSpec, summary: string): Record<string, string[]> {
    const { policy } = this.spec;
    if (nodes.length === 0) throw ApplicationFailure.nonRetryable('no node to work on', FailureType.NoNodes);
    this.gates = new RollingGates(policy, nodes, this.progress, this.stopRequested);
    const steps = planRollingNodes(nodes, node, policy);
    for (const name of nodes) {
      this.progress.addStep(`node ${name}`);
      this.reports.set(name, { node: name, status: 'not-started', message: '', leftCordoned: false });
    }
    for (const report of (this.spec.continued?.reports ?? []) as NodeReport<S>[]) {
      if (!this.reports.has(report.node)) continue;
      this.reports.set(report.node, report);
      this.doneEarlier.add(report.node);
      this.progress.step(`node ${report.node}`, report.status === 'failed' ? 'failed' : 'done', `${report.message} (an earlier run)`);
    }
    if (this.spec.continued?.paused) this.controls.stayPaused();
    // Too many nodes for one attribute value: it lists the nodes in progress instead, as they change.
    if (!fitsSearchAttribute(nodes)) this.attributeNodes = new Set();
    upsertSearchAttributes([
      { key: OPERATION_ATTRIBUTE, value: this.spec.operation },
      { key: NODES_ATTRIBUTE, value: this.attributeNodes ? [] : nodes },
    ]);
    this.progress.step('plan', 'done', summary);
    return steps;
  }

  /** A dry run ends after the plan: every later step is shown as skipped. */
  planned(): { outcome: 'planned'; nodes: NodeReport<S>[] } {
    this.progress.skipPending('dry run');
    return this.result('planned');
  }

  /**
   * Rolls over `nodes` with the run's gates: pause → window → approval before a node; settle, the node
   * still holding, and cluster health after it. Returns why the run must stop (a failed node or gate), if so.
   */
  async roll<R extends CordonState>(nodes: string[], spec: RollSpec<R, S>): Promise<string | undefined> {
    const gates = this.gates!;
    const rolled = await rollNodes<R>(
      // A continued run starts where the last one stopped (a rollback's second pass revisits failed nodes).
      nodes.filter((node) => !this.doneEarlier.has(node)),
      {
        maxUnavailable: this.spec.policy.maxUnavailable,
        stopRequested: this.stopRequested,
        rollOver: this.rollOverCheck(),
        onOutcome: (outcome) => this.record(outcome, spec.succeeded),
        beforeNode: async (node) => {
          if ((await this.controls.checkpoint()) || this.stopRequested()) return false;
          if (!(await gates.windowOpen(node))) return false;
          return spec.approve ? spec.approve(node) : true;
        },
        betweenNodes: (node) => gates.settleAndCheck(node, () => this.unmet(node, spec.stillHolds(node))),
      },
      (node) => {
        this.progress.phase = `node ${node}`;
        this.listInAttribute(node, true);
        return spec.runNode(node).finally(() => this.listInAttribute(node, false));
      },
    );
    // Whether a node is left cordoned comes from the cluster, not from guesses.
    const cordonedNow = await gates.cordonedNow();
    for (const report of this.reports.values()) report.leftCordoned = cordonedNow.has(report.node);
    this.rolledOver = rolled.rolledOver === true && !this.stopRequested();
    if (!this.rolledOver) for (const node of rolled.notStarted) this.progress.step(`node ${node}`, 'skipped', 'not started');
    if (rolled.gateFailure) {
      const report = this.reports.get(rolled.gateFailure.node)!;
      report.message += `; then the gate before the next node failed: ${rootMessage(rolled.gateFailure.error)}`;
      this.progress.step(`node ${report.node}`, 'failed', report.message);
      return `gate after ${report.node} failed`;
    }
    const failed = nodes.map((node) => this.reports.get(node)!).find((r) => r.status === 'failed');
    return failed ? `node ${failed.node} failed` : undefined;
  }

  /** For the run that continues this one (continue-as-new). */
  carry(): RollingCarry<S> {
    return { reports: [...this.reports.values()].filter((r) => r.status !== 'not-started'), paused: this.controls.paused };
  }

  private listInAttribute(node: string, inProgress: boolean): void {
    if (!this.attributeNodes) return;
    if (inProgress) this.attributeNodes.add(node);
    else this.attributeNodes.delete(node);
    upsertSearchAttributes([{ key: NODES_ATTRIBUTE, value: [...this.attributeNodes] }]);
  }

  private rollOverCheck(): (() => boolean) | undefined {
    const limit = this.spec.historyEventsPerRun;
    if (limit === undefined || !patched(ROLL_OVER_PATCH)) return undefined;
    return () => {
      const { historyLength, continueAsNewSuggested } = workflowInfo();
      return historyLength >= limit || continueAsNewSuggested;
    };
  }

  /** The nodes a roll started (what a rollback must revisit). */
  touched(): string[] {
    return [...this.reports.values()].filter((r) => r.status !== 'not-started').map((r) => r.node);
  }

  result<O extends string>(outcome: O): { outcome: O; nodes: NodeReport<S>[] } {
    this.progress.phase = outcome;
    return { outcome, nodes: [...this.reports.values()] };
  }

  /** The run's final, non-retryable failure: why it stopped and where every node was left. */
  stopped(why: string): ApplicationFailure {
    const reports = [...this.reports.values()];
    const lines = reports.map((r) => `${r.node}: ${r.status}${r.message ? ` (${r.message})` : ''}${r.leftCordoned ? ' [cordoned]' : ''}`);
    this.progress.phase = 'stopped';
    return ApplicationFailure.create({
      type: FailureType.RolloutStopped,
      nonRetryable: true,
      message: `${this.spec.title} stopped: ${why}\n${lines.join('\n')}`,
      details: [reports],
    });
  }

  private async unmet(node: string, expectation: NodeExpectation): Promise<string[]> {
    const [facts] = await listNodes({ names: [node] });
    return unmetExpectations(facts!, expectation);
  }

  /** Writes one node's outcome into its report and progress row the moment it is known. */
  private record<R extends CordonState>(outcome: NodeOutcome<R>, succeeded: RollSpec<R, S>['succeeded']): void {
    const report = this.reports.get(outcome.node)!;
    if (outcome.ok) {
      const { status, message } = succeeded(outcome.result);
      const kept = outcome.result.cordonedBefore ? `; cordoned by ${outcome.result.cordonedBefore} before this run, left cordoned` : '';
      Object.assign(report, { status, message: message + kept, cordonedBefore: outcome.result.cordonedBefore });
      this.progress.step(`node ${outcome.node}`, 'done', report.message);
    } else {
      const aborted = isCancellation(outcome.error);
      Object.assign(report, { status: aborted ? 'aborted' : 'failed', message: aborted ? 'interrupted by abort; left as it was' : rootMessage(outcome.error) });
      this.progress.step(`node ${outcome.node}`, 'failed', report.message);
    }
  }
}
