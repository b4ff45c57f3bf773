import type { FailureCause } from './failure-classifier.js';

/**
 * What a failed attempt leads to, decided by ordered rules (cause → action), each rule with a budget of its
 * own or drawing on the job's: the idea of JobSet's failure policy (kubernetes-sigs/jobset failure_policy.go),
 * whose restarts either count toward the cap or not. A lost node waits for its repair on a budget of its
 * own, so losing a Spark twice does not spend the retries meant for a crashing script. The budgets live in
 * the workflow's state, which no deletion of a Kubernetes object can reset.
 */

/**
 * - retryNow: the next attempt as soon as the nodes are available (the cluster took the pods, not the job);
 * - retryAfterBackoff: the next attempt after a backoff that doubles with each use of the budget;
 * - waitForNode: wait for the lost node's repair (with the job's node recovery deadline), then try again;
 * - fail: end the run.
 */
export const POLICY_ACTIONS = ['retryNow', 'retryAfterBackoff', 'waitForNode', 'fail'] as const;
export type PolicyAction = (typeof POLICY_ACTIONS)[number];

export interface FailurePolicyRule {
  causes: FailureCause[];
  action: PolicyAction;
  /** Retries this rule may start on a budget of its own; absent, its retries draw on the job-failure budget. */
  retries?: number;
}

/** The budget of rules without one of their own: retry.maxAttempts - 1 retries. */
export const JOB_FAILURE_BUDGET = 'job failures';

export const DEFAULT_FAILURE_POLICY: FailurePolicyRule[] = [
  { causes: ['node-lost'], action: 'waitForNode', retries: 10 },
  { causes: ['pod-preempted', 'pod-evicted'], action: 'retryNow', retries: 5 },
  { causes: ['bad-config', 'slow-link'], action: 'fail' },
  { causes: ['image-pull', 'hang', 'nccl-timeout', 'nccl-error', 'unknown'], action: 'retryAfterBackoff' },
];

export interface BudgetUse {
  name: string;
  /** Retries started on this budget. */
  used: number;
  limit: number;
}

export interface FailureDecision {
  action: PolicyAction;
  /** The budget the retry was charged to (absent when the run fails without one being spent). */
  budget?: string;
  /** Why, in words: the rule and the budget's use, or what was spent. */
  reason: string;
}

const budgetName = (rule: FailurePolicyRule) => rule.causes.join('/');
/** A cause no rule names is retried after a backoff, on the job-failure budget. */
const FALLBACK_RULE: Omit<FailurePolicyRule, 'causes'> = { action: 'retryAfterBackoff' };

export class FailureBudgets {
  private readonly budgets: BudgetUse[];

  constructor(
    private readonly rules: FailurePolicyRule[],
    jobFailureRetries: number,
  ) {
    this.budgets = [
      ...rules.filter((r) => r.retries !== undefined && r.action !== 'fail').map((r) => ({ name: budgetName(r), used: 0, limit: r.retries! })),
      { name: JOB_FAILURE_BUDGET, used: 0, limit: jobFailureRetries },
    ];
  }

  /** Every budget and its use so far, for the result and progress. */
  get usage(): BudgetUse[] {
    return this.budgets.map((b) => ({ ...b }));
  }

  /** How many retries the budget `name` has started (the backoff doubles with them). */
  used(name: string): number {
    return this.budgets.find((b) => b.name === name)?.used ?? 0;
  }

  /** Decides what a failure of `cause` leads to, charging the retry to its rule's budget. */
  charge(cause: FailureCause | 'nodes-unavailable'): FailureDecision {
    // Its deadline has passed already: waiting longer is for the operator to decide, with a new run.
    if (cause === 'nodes-unavailable') return { action: 'fail', reason: 'the nodes did not become available in time' };
    const index = this.rules.findIndex((r) => r.causes.includes(cause));
    const rule = this.rules[index] ?? { causes: [cause], ...FALLBACK_RULE };
    const unnamed = index === -1 ? `no rule names ${cause}; ` : '';
    if (rule.action === 'fail') return { action: 'fail', reason: `rule ${index + 1} fails the run` };
    const budget = this.budgets.find((b) => b.name === (rule.retries === undefined ? JOB_FAILURE_BUDGET : budgetName(rule)))!;
    if (budget.used >= budget.limit) {
      return { action: 'fail', budget: budget.name, reason: `${unnamed}the ${budget.name} budget is spent (${budget.used} of ${budget.limit} retries)` };
    }
    budget.used += 1;
    return { action: rule.action, budget: budget.name, reason: `${unnamed}${budget.name} budget ${budget.used} of ${budget.limit}` };
  }
}
