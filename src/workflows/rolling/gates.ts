import { ApplicationFailure, condition } from '@temporalio/workflow';
import { describeWindow, msUntilWindowOpens } from '../../domain/maintenance-window.js';
import { FailureType } from '../../failures.js';
import type { RollingPolicy } from '../../schemas/rolling.js';
import { QUICK_CALLS } from '../shared/activity-options.js';
import { proxyRunbookActivities } from '../shared/activity-summaries.js';
import { operationMetrics } from '../shared/metrics.js';
import type { ProgressTracker } from '../shared/progress.js';

const RECHECK_MS = 30_000;

const { listNodes, failingKustomizations, promQueryViolations } = proxyRunbookActivities(QUICK_CALLS);

/**
 * The gates a careful operator keeps between nodes: a maintenance window before a node starts, and after
 * a node is done a settle time (durable timer) in which it must stay Ready and verified, then a cluster
 * health check that must pass before the next node. Every wait ends early when the run is stopped.
 */
export class RollingGates {
  constructor(
    private readonly policy: RollingPolicy,
    /** The run's nodes: all must be Ready for the cluster to count as healthy. */
    private readonly scope: string[],
    private readonly progress: ProgressTracker,
    private readonly stopRequested: () => boolean,
  ) {}

  /** Waits until the window is open; false when the run was stopped meanwhile. */
  async windowOpen(node: string): Promise<boolean> {
    const { window } = this.policy;
    if (!window) return true;
    for (;;) {
      const wait = msUntilWindowOpens(Date.now(), window);
      if (wait === 0) return !this.stopRequested();
      this.progress.phase = `waiting for the maintenance window (${describeWindow(window)}) before ${node}`;
      if (await condition(this.stopRequested, wait, { summary: `wait for the maintenance window before ${node}` })) return false;
    }
  }

  /**
   * Settle, then check the changed node (`stillVerified` names what no longer holds) and the cluster.
   * Throws a non-retryable failure naming every problem when the cluster is not healthy in time.
   */
  async settleAndCheck(node: string, stillVerified: () => Promise<string[]>): Promise<void> {
    const started = Date.now();
    const gated = (outcome: 'done' | 'failed') => operationMetrics.nodePhase({ phase: 'gate', node, outcome }, started);
    await this.settleThenCheck(node, stillVerified).then(
      () => gated('done'),
      (error: unknown) => {
        gated('failed');
        throw error;
      },
    );
  }

  private async settleThenCheck(node: string, stillVerified: () => Promise<string[]>): Promise<void> {
    const { settleSeconds, healthGate } = this.policy;
    if (settleSeconds > 0) {
      this.progress.phase = `settling ${node} for ${settleSeconds}s`;
      if (await condition(this.stopRequested, settleSeconds * 1000, { summary: `settle ${node} for ${settleSeconds}s` })) return;
    }
    const nodeProblems = await stillVerified();
    if (nodeProblems.length > 0) {
      throw ApplicationFailure.nonRetryable(`${node} did not hold after ${settleSeconds}s: ${nodeProblems.join('; ')}`, FailureType.HealthGateFailed);
    }
    const deadline = Date.now() + healthGate.timeoutSeconds * 1000;
    for (;;) {
      this.progress.phase = `health gate after ${node}`;
      const problems = await this.clusterProblems();
      if (problems.length === 0) return;
      if (Date.now() >= deadline) {
        throw ApplicationFailure.nonRetryable(
          `cluster not healthy after ${node} (waited ${healthGate.timeoutSeconds}s): ${problems.join('; ')}`,
          FailureType.HealthGateFailed,
        );
      }
      this.progress.phase = `health gate after ${node}: ${problems.join('; ')}`;
      const recheck = Math.min(RECHECK_MS, Math.max(deadline - Date.now(), 1));
      if (await condition(this.stopRequested, recheck, { summary: `health gate after ${node}: check again` })) return;
    }
  }

  /** The nodes unschedulable right now: what the report calls left cordoned. */
  async cordonedNow(): Promise<Set<string>> {
    return new Set((await listNodes({})).filter((n) => n.unschedulable).map((n) => n.name));
  }

  private async clusterProblems(): Promise<string[]> {
    const { healthGate } = this.policy;
    const problems: string[] = [];
    if (healthGate.nodesReady) {
      const nodes = await listNodes({ names: this.scope });
      problems.push(...nodes.filter((n) => n.conditions.Ready !== 'True').map((n) => `node ${n.name} is not Ready`));
    }
    if (healthGate.fluxNamespace) problems.push(...(await failingKustomizations({ namespace: healthGate.fluxNamespace })));
    if (healthGate.prometheus) problems.push(...(await promQueryViolations(healthGate.prometheus)));
    return problems;
  }
}
