import { ApplicationFailure, executeChild, getExternalWorkflowHandle, setHandler, workflowInfo } from '@temporalio/workflow';
import type { DrainPodPolicy } from '../../domain/drain.js';
import type { CordonState, NodeIdentity } from '../../domain/node.js';
import { failureTypeIn, FailureType, NODE_LOST_TYPES, rootMessage } from '../../failures.js';
import { DrainNodeInput } from '../../schemas/drain-node.js';
import { HOOK_POINTS } from '../../schemas/rolling.js';
import type { HookPoint, RollingPolicy } from '../../schemas/rolling.js';
import { drainNodeMetadata } from '../../schemas/run-metadata.js';
// Types only: the drain is a child workflow started by its name, so the rolling engine does not import
// a sibling workflow.
import type { drainNode, DrainNodeResult } from '../drain-node.js';
import { QUICK_CALLS, WATCHES } from '../shared/activity-options.js';
import { proxyRunbookActivities } from '../shared/activity-summaries.js';
import { operationMetrics } from '../shared/metrics.js';
import { nodeProgressSignal, progressQuery } from '../shared/messages.js';
import type { NodeProgressUpdate } from '../shared/messages.js';
import { ProgressTracker } from '../shared/progress.js';

const READY_TIMEOUT_S = 120;
/** Failure types kept as they are, so the run's report says what happened to the node. */
const KEPT_TYPES = [...NODE_LOST_TYPES, FailureType.HookFailed];
/** Hook Jobs, like watches, take as long as their own timeout says; they heartbeat while they wait. */
const { runHookJob, waitForNode } = proxyRunbookActivities(WATCHES);
const { nodeIdentity, uncordonNode } = proxyRunbookActivities(QUICK_CALLS);

/**
 * The steps every per-node child of a rolling operation shares, around the operation's own steps:
 * pre-check (Ready; remember which registration of the node this is), hooks, cordon + drain (a child
 * workflow), identity checks, uncordon only what this run cordoned. Each step shows in the child's
 * progress and is mirrored to the parent run.
 */
export class NodeSteps {
  readonly node: string;
  readonly progress: ProgressTracker;
  private readonly owner: string;
  private identity: NodeIdentity | undefined;
  private drained: DrainNodeResult | undefined;
  private readonly parent;

  constructor(
    operation: string,
    node: string,
    private readonly hooks: RollingPolicy['hooks'],
    /** The operation's own steps, between the drain and the afterReconfigure hook. */
    ownSteps: string[],
    /** A reboot is part of the operation (an OS upgrade): a new boot ID is expected, not a failure. */
    private readonly rebootExpected = false,
  ) {
    this.node = node;
    const info = workflowInfo();
    this.owner = info.parent?.workflowId ?? info.workflowId;
    this.parent = info.parent ? getExternalWorkflowHandle(info.parent.workflowId, info.parent.runId) : undefined;
    const hook = (point: HookPoint) => (hooks[point] ? [point] : []);
    this.progress = new ProgressTracker(operation, [
      'precheck',
      ...hook('beforeDrain'),
      'drain',
      ...ownSteps,
      ...hook('afterReconfigure'),
      ...hook('beforeUncordon'),
      'uncordon',
    ]);
    setHandler(progressQuery, () => this.progress.snapshot());
  }

  async report(step: string, phase: NodeProgressUpdate['phase'], message?: string): Promise<void> {
    this.progress.step(step, phase, message);
    this.progress.phase = `${step}: ${phase}`;
    await this.parent?.signal(nodeProgressSignal, { node: this.node, step, phase, message });
  }

  async fail(step: string, type: FailureType, message: string): Promise<never> {
    await this.report(step, 'failed', message);
    throw ApplicationFailure.nonRetryable(message, type);
  }

  /** Runs `work` as `step`: a failure is reported on the step and ends the operation with `type`. */
  async run<T>(step: string, type: FailureType, work: () => Promise<T>, done: (value: T) => string): Promise<T> {
    await this.report(step, 'running');
    const started = Date.now();
    const value = await work().catch((error) => {
      this.measure(step, 'failed', started);
      const kept = failureTypeIn(error, KEPT_TYPES);
      const cordoned = this.drained && !this.drained.cordonedByOthers && !NODE_LOST_TYPES.some((t) => t === kept);
      return this.fail(step, kept ?? type, `${this.node}${cordoned ? ' stays cordoned' : ''}: ${rootMessage(error)}`);
    });
    this.measure(step, 'done', started);
    await this.report(step, 'done', done(value));
    return value;
  }

  /** Every step's duration, hooks as one phase; the drain child measures its own cordon and drain. */
  private measure(step: string, outcome: 'done' | 'failed', started: number): void {
    if (step === 'drain') return;
    const phase = HOOK_POINTS.some((point) => point === step) ? 'hook' : step;
    operationMetrics.nodePhase({ phase, node: this.node, outcome }, started);
  }

  /** Ready now; records the node's uid and boot ID so a replaced node is noticed at every later step. */
  async precheck(extra?: () => Promise<string>): Promise<void> {
    await this.run(
      'precheck',
      FailureType.NodeNotReady,
      async () => {
        await waitForNode({ node: this.node, timeoutSeconds: READY_TIMEOUT_S, condition: { type: 'Ready', status: 'True' } });
        this.identity = await nodeIdentity({ node: this.node });
        return (await extra?.()) ?? 'Ready';
      },
      (message) => message,
    );
  }

  /** The same registration of the node as at the pre-check (and, unless a reboot is expected, the same boot). */
  async sameNode(): Promise<void> {
    await nodeIdentity({ node: this.node, expected: this.identity, rebootExpected: this.rebootExpected });
  }

  async hook(point: HookPoint): Promise<void> {
    const hook = this.hooks[point];
    if (!hook) return;
    const { workflowId } = workflowInfo();
    // A Job name from the run: a retried activity finds the Job it created instead of running it twice.
    const name = `${point.toLowerCase()}-${shortHash(workflowId)}-${this.node}`.slice(0, 63).replace(/[-.]+$/, '');
    await this.run(
      point,
      FailureType.HookFailed,
      async () => {
        await this.sameNode();
        return runHookJob({ hook, point, node: this.node, name, owner: workflowId });
      },
      (hookRun) => `Job ${hookRun.job} succeeded`,
    );
  }

  async drain(timeoutSeconds: number, drainPods: DrainPodPolicy): Promise<DrainNodeResult> {
    this.drained = await this.run(
      'drain',
      FailureType.DrainFailed,
      async () => {
        await this.sameNode();
        const args = { node: this.node, owner: this.owner, timeoutSeconds, ...drainPods };
        // Input the child refuses (InvalidInput, its own report) gets no summary rather than failing here.
        const parsed = DrainNodeInput.safeParse(args);
        const drained = await executeChild<typeof drainNode>('drainNode', {
          workflowId: `${workflowInfo().workflowId}/drain`,
          args: [args],
          ...(parsed.success ? drainNodeMetadata(parsed.data) : {}),
        });
        await this.sameNode();
        return drained;
      },
      (d) =>
        `${d.lastPass?.evicted.length ?? 0} evicted, ${d.lastPass?.deleted.length ?? 0} finished deleted in the last pass${d.cordonedBefore ? `; was already cordoned by ${d.cordonedBefore}` : ''}`,
    );
    return this.drained;
  }

  /** Uncordons only a cordon this run made; an admin's cordon stays, and the result says so. */
  async uncordon(): Promise<CordonState> {
    const { cordonedByOthers = false, cordonedBefore } = this.drained ?? {};
    if (cordonedByOthers) {
      await this.report('uncordon', 'skipped', `cordoned by ${cordonedBefore} before this run: left cordoned`);
      return { cordonedByOthers, cordonedBefore, uncordoned: false };
    }
    const result = await this.run(
      'uncordon',
      FailureType.NodeReplaced,
      async () => {
        await this.sameNode();
        return uncordonNode({ node: this.node, owner: this.owner });
      },
      (r) => r.reason,
    );
    return { cordonedByOthers, uncordoned: result.uncordoned };
  }
}

/** A short, stable, name-safe digest of a workflow id (FNV-1a): workflow code has no crypto module. */
function shortHash(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash.toString(36);
}
