/**
 * Pure drain logic, after Cluster API's drain: one pass sorts a node's pods into buckets, the activity
 * evicts what it may, and the result is sorted so repeated passes print stable messages.
 */

export interface PodFacts {
  namespace: string;
  name: string;
  ownerKinds: string[];
  /** A static pod's API mirror: it cannot be evicted, the kubelet owns it. */
  mirror: boolean;
  /** Already has a deletionTimestamp: it is on its way out. */
  deleting: boolean;
}

export type IgnoreReason = 'DaemonSet' | 'mirror pod';

export interface DrainPlan {
  evict: string[];
  deleting: string[];
  ignored: { pod: string; reason: IgnoreReason }[];
}

export interface DrainPassResult {
  node: string;
  /** True when nothing but ignored pods is left on the node. */
  drained: boolean;
  evicted: string[];
  /** Refused by a PodDisruptionBudget (HTTP 429); retried on the next pass. */
  blocked: { pod: string; reason: string }[];
  deleting: string[];
  ignored: { pod: string; reason: IgnoreReason }[];
  /** Other eviction errors, grouped by message. */
  failed: { message: string; pods: string[] }[];
}

export const podKey = (pod: { namespace: string; name: string }) => `${pod.namespace}/${pod.name}`;

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function planDrain(pods: PodFacts[]): DrainPlan {
  const plan: DrainPlan = { evict: [], deleting: [], ignored: [] };
  for (const pod of pods) {
    const key = podKey(pod);
    if (pod.mirror) plan.ignored.push({ pod: key, reason: 'mirror pod' });
    else if (pod.ownerKinds.includes('DaemonSet')) plan.ignored.push({ pod: key, reason: 'DaemonSet' });
    else if (pod.deleting) plan.deleting.push(key);
    else plan.evict.push(key);
  }
  plan.evict.sort(byText);
  plan.deleting.sort(byText);
  plan.ignored.sort((a, b) => byText(a.pod, b.pod));
  return plan;
}

export type EvictionOutcome =
  | { pod: string; outcome: 'evicted' }
  | { pod: string; outcome: 'blocked'; reason: string }
  | { pod: string; outcome: 'failed'; message: string };

export function summarizePass(node: string, plan: DrainPlan, outcomes: EvictionOutcome[]): DrainPassResult {
  const evicted: string[] = [];
  const blocked: DrainPassResult['blocked'] = [];
  const failures = new Map<string, string[]>();
  for (const result of [...outcomes].sort((a, b) => byText(a.pod, b.pod))) {
    if (result.outcome === 'evicted') evicted.push(result.pod);
    else if (result.outcome === 'blocked') blocked.push({ pod: result.pod, reason: result.reason });
    else failures.set(result.message, [...(failures.get(result.message) ?? []), result.pod]);
  }
  const failed = [...failures.entries()]
    .map(([message, pods]) => ({ message, pods }))
    .sort((a, b) => byText(a.message, b.message));
  return {
    node,
    drained: plan.evict.length === 0 && plan.deleting.length === 0,
    evicted,
    blocked,
    deleting: plan.deleting,
    ignored: plan.ignored,
    failed,
  };
}

/** One line for progress views, e.g. "2 evicted, 1 blocked, 1 terminating, 3 ignored". */
export function describePass(pass: DrainPassResult): string {
  if (pass.drained) return `drained (${pass.ignored.length} ignored)`;
  const failed = pass.failed.reduce((n, f) => n + f.pods.length, 0);
  return [
    `${pass.evicted.length} evicted`,
    `${pass.blocked.length} blocked`,
    `${pass.deleting.length} terminating`,
    `${failed} failed`,
    `${pass.ignored.length} ignored`,
  ].join(', ');
}

/** Why a drain could not finish, naming every pod still in the way. */
export function describeLeftovers(pass: DrainPassResult): string {
  const lines = [
    ...pass.blocked.map((b) => `${b.pod}: ${b.reason}`),
    ...pass.failed.flatMap((f) => f.pods.map((pod) => `${pod}: ${f.message}`)),
    ...pass.deleting.map((pod) => `${pod}: still terminating`),
  ];
  return lines.join('\n');
}
