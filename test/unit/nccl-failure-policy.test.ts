import type { FailureCause } from '../../src/domain/nccl/failure-classifier.js';
import { DEFAULT_FAILURE_POLICY, FailureBudgets } from '../../src/domain/nccl/failure-policy.js';
import type { FailurePolicyRule } from '../../src/domain/nccl/failure-policy.js';
import { NcclJobInput } from '../../src/schemas/nccl-job.js';
import { describeIssues } from '../../src/schemas/validate.js';

/** The decisions for a run of failures, in order, and the budgets after them. */
function run(causes: (FailureCause | 'nodes-unavailable')[], { rules = DEFAULT_FAILURE_POLICY, jobFailureRetries = 2 } = {}) {
  const budgets = new FailureBudgets(rules, jobFailureRetries);
  const decisions = causes.map((cause) => budgets.charge(cause));
  return { actions: decisions.map((d) => d.action), reasons: decisions.map((d) => d.reason), usage: budgets.usage };
}
const use = (usage: { name: string; used: number; limit: number }[]) => Object.fromEntries(usage.map((b) => [b.name, `${b.used}/${b.limit}`]));

test('every budget is listed from the start: the rules with their own, then the job-failure budget', () => {
  expect(use(run([]).usage)).toEqual({ 'node-lost': '0/10', 'pod-preempted/pod-evicted': '0/5', 'job failures': '0/2' });
});

test.each([
  [
    'a lost node waits for repair on its own budget, leaving the job-failure budget alone',
    ['node-lost', 'node-lost', 'node-lost'],
    { jobFailureRetries: 0 },
    ['waitForNode', 'waitForNode', 'waitForNode'],
    { 'node-lost': '3/10', 'job failures': '0/0' },
  ],
  [
    'job failures back off on the shared budget until it is spent',
    ['nccl-error', 'hang', 'nccl-timeout'],
    {},
    ['retryAfterBackoff', 'retryAfterBackoff', 'fail'],
    { 'job failures': '2/2' },
  ],
  [
    'evicted and preempted pods are retried at once, on their own budget',
    ['pod-evicted', 'pod-preempted'],
    {},
    ['retryNow', 'retryNow'],
    { 'pod-preempted/pod-evicted': '2/5', 'job failures': '0/2' },
  ],
  ['bad configuration fails at once and spends nothing', ['bad-config'], {}, ['fail'], { 'job failures': '0/2' }],
  ['nodes that never came back end the run', ['nodes-unavailable'], {}, ['fail'], { 'node-lost': '0/10' }],
  [
    'a rule with a small budget of its own ends the run when it is spent',
    ['node-lost', 'node-lost'],
    { rules: [{ causes: ['node-lost'], action: 'waitForNode', retries: 1 }] as FailurePolicyRule[] },
    ['waitForNode', 'fail'],
    { 'node-lost': '1/1' },
  ],
  [
    'a cause no rule names backs off on the job-failure budget',
    ['hang'],
    { rules: [{ causes: ['node-lost'], action: 'waitForNode', retries: 1 }] as FailurePolicyRule[] },
    ['retryAfterBackoff'],
    { 'job failures': '1/2' },
  ],
] as const)('%s', (_name, causes, options, actions, usage) => {
  const result = run([...causes], options as Parameters<typeof run>[1]);
  expect(result.actions).toEqual(actions);
  expect(use(result.usage)).toMatchObject(usage);
});

test('the reasons say which budget, how much of it is used, and what ended the run', () => {
  expect(run(['node-lost']).reasons).toEqual(['node-lost budget 1 of 10']);
  expect(run(['nccl-error', 'nccl-error'], { jobFailureRetries: 1 }).reasons).toEqual([
    'job failures budget 1 of 1',
    'the job failures budget is spent (1 of 1 retries)',
  ]);
  expect(run(['bad-config']).reasons).toEqual(['rule 3 fails the run']);
  expect(run(['hang'], { rules: [{ causes: ['node-lost'], action: 'fail' }] }).reasons).toEqual(['no rule names hang; job failures budget 1 of 2']);
});

test('the input: a cause in two rules (the second never sees it) and a fail rule with retries are refused, naming the field', () => {
  const result = NcclJobInput.safeParse({
    name: 'x',
    kind: 'benchmark',
    image: 'i',
    failurePolicy: [
      { causes: ['node-lost', 'hang'], action: 'waitForNode', retries: 3 },
      { causes: ['hang'], action: 'retryNow' },
      { causes: ['bad-config'], action: 'fail', retries: 1 },
      { causes: ['oom'], action: 'retryNow' },
    ],
  });
  const message = describeIssues(result.error!);
  expect(message).toContain("input.failurePolicy.1.causes: hang is rule 1's (the first match wins)");
  expect(message).toContain('input.failurePolicy.2.retries: a fail rule retries nothing');
  expect(message).toContain('input.failurePolicy.3.causes.0');
  expect(NcclJobInput.parse({ name: 'x', kind: 'benchmark', image: 'i' }).failurePolicy).toEqual(DEFAULT_FAILURE_POLICY);
});
