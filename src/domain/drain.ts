/**
 * Pure drain logic, after kubectl's and Cluster API's drain: one pass sorts a node's pods into buckets
 * (each pod with the reason it is there), the activity evicts or deletes what it may, and the result is
 * sorted so repeated passes print stable messages.
 */

/** Labels that tell a drain to leave a pod where it is: ours, and Cluster API's equivalent. */
export const DRAIN_SKIP_LABELS = ['cluster-ops.wcloud.sh/drain', 'cluster.x-k8s.io/drain'] as const;
const DRAIN_SKIP_VALUE = 'skip';

/** What to do with a pod whose eviction loses something for good. */
export const POD_POLICY_CHOICES = ['refuse', 'evict'] as const;
export type PodPolicyChoice = (typeof POD_POLICY_CHOICES)[number];

/**
 * The operator's choice for pods an eviction cannot give back, as kubectl's --force and
 * --delete-emptydir-data; refusing is the safe default, the drain then fails naming the pods.
 */
export interface DrainPodPolicy {
  /** Pods no controller recreates: no controller ownerReference, or their DaemonSet is gone or being deleted. */
  unmanagedPods: PodPolicyChoice;
  /** Pods with emptyDir volumes, whose data an eviction deletes. */
  emptyDirPods: PodPolicyChoice;
}

export interface PodController {
  /** The API group ('' for core), without the version. */
  group: string;
  kind: string;
  name: string;
  uid: string;
}

export interface PodFacts {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  /** The ownerReference with controller: true: what recreates the pod once it is gone. */
  controller?: PodController;
  /** A static pod's API mirror: it cannot be evicted, the kubelet owns it. */
  mirror: boolean;
  /** Already has a deletionTimestamp: it is on its way out. */
  deleting: boolean;
  phase: string;
  emptyDirVolumes: string[];
}

/** One pod in a plan or a pass, with why it is in its bucket. */
export interface PlannedPod {
  pod: string;
  reason: string;
}

export interface DrainPlan {
  /** Through the Eviction API, PodDisruptionBudgets respected. */
  evict: PlannedPod[];
  /** Finished (Succeeded or Failed): nothing left to disrupt, so a plain delete. */
  delete: PlannedPod[];
  /** Already terminating: waited for. */
  deleting: PlannedPod[];
  /** The policy forbids removing them; the drain cannot finish while they are there. */
  refused: PlannedPod[];
  /** Left on the node; the node counts as drained with them. */
  ignored: PlannedPod[];
}

/** The plan's buckets, in the order a drain handles them. */
export const DRAIN_BUCKETS = ['evict', 'delete', 'deleting', 'refused', 'ignored'] as const satisfies readonly (keyof DrainPlan)[];

export interface DrainPassResult {
  node: string;
  /** True when nothing but ignored pods is left on the node. */
  drained: boolean;
  evicted: string[];
  /** Finished pods deleted. */
  deleted: string[];
  /** Refused by a PodDisruptionBudget (HTTP 429); retried on the next pass. */
  blocked: { pod: string; reason: string }[];
  deleting: PlannedPod[];
  /** Refused by the pod policy; while any are, the pass evicts and deletes nothing. */
  refused: PlannedPod[];
  ignored: PlannedPod[];
  /** Other eviction or delete errors, grouped by message. */
  failed: { message: string; pods: string[] }[];
}

export const podKey = (pod: { namespace: string; name: string }) => `${pod.namespace}/${pod.name}`;

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const byPod = (a: PlannedPod, b: PlannedPod) => byText(a.pod, b.pod);

const isDaemonSet = (controller?: PodController): controller is PodController => controller?.group === 'apps' && controller.kind === 'DaemonSet';

/** The DaemonSets that control these pods, once each: the activity reads each of them once per pass. */
export function daemonSetControllers(pods: PodFacts[]): { namespace: string; name: string }[] {
  const daemonSets = new Map<string, { namespace: string; name: string }>();
  for (const { namespace, controller } of pods) {
    if (isDaemonSet(controller)) daemonSets.set(podKey({ namespace, name: controller.name }), { namespace, name: controller.name });
  }
  return [...daemonSets.entries()].sort(([a], [b]) => byText(a, b)).map(([, daemonSet]) => daemonSet);
}

export interface PlanDrainInput {
  pods: PodFacts[];
  policy: DrainPodPolicy;
  /**
   * UIDs of the DaemonSets that exist and are not being deleted: only their pods are skipped, because
   * only they come straight back on a cordoned node. A pod of any other DaemonSet is unmanaged.
   */
  liveDaemonSets: ReadonlySet<string>;
}

type Decision = { bucket: keyof DrainPlan; reason: string };

function decide(pod: PodFacts, { policy, liveDaemonSets }: Omit<PlanDrainInput, 'pods'>): Decision {
  const skipLabel = DRAIN_SKIP_LABELS.find((label) => pod.labels[label] === DRAIN_SKIP_VALUE);
  if (skipLabel) return { bucket: 'ignored', reason: `label ${skipLabel}=${DRAIN_SKIP_VALUE}` };
  if (pod.mirror) return { bucket: 'ignored', reason: 'mirror pod' };
  const { controller } = pod;
  if (isDaemonSet(controller) && liveDaemonSets.has(controller.uid)) return { bucket: 'ignored', reason: 'DaemonSet' };
  if (pod.deleting) return { bucket: 'deleting', reason: 'already terminating' };
  if (pod.phase === 'Succeeded' || pod.phase === 'Failed') return { bucket: 'delete', reason: `finished (${pod.phase})` };

  // What an eviction would lose for good, each with the policy that allows it.
  const losses: { policy: keyof DrainPodPolicy; loss: string }[] = [];
  if (!controller) losses.push({ policy: 'unmanagedPods', loss: 'no controller recreates it' });
  else if (isDaemonSet(controller))
    losses.push({ policy: 'unmanagedPods', loss: `its DaemonSet ${controller.name} is gone or being deleted, nothing recreates it` });
  if (pod.emptyDirVolumes.length > 0) losses.push({ policy: 'emptyDirPods', loss: `emptyDir ${pod.emptyDirVolumes.join(', ')} loses its data` });

  const refused = losses.filter((l) => policy[l.policy] === 'refuse');
  if (refused.length > 0) return { bucket: 'refused', reason: refused.map((l) => `${l.loss}; set ${l.policy}: 'evict' to evict it`).join('; ') };
  if (losses.length > 0) return { bucket: 'evict', reason: losses.map((l) => `${l.loss} (${l.policy}: 'evict')`).join('; ') };
  // No losses: a controller that is not a DaemonSet recreates the pod elsewhere.
  return { bucket: 'evict', reason: `${controller!.kind} ${controller!.name}` };
}

export function planDrain(input: PlanDrainInput): DrainPlan {
  const plan: DrainPlan = { evict: [], delete: [], deleting: [], refused: [], ignored: [] };
  for (const pod of input.pods) {
    const { bucket, reason } = decide(pod, input);
    plan[bucket].push({ pod: podKey(pod), reason });
  }
  for (const bucket of DRAIN_BUCKETS) plan[bucket].sort(byPod);
  return plan;
}

export type PodOutcome =
  { pod: string; outcome: 'evicted' | 'deleted' } | { pod: string; outcome: 'blocked'; reason: string } | { pod: string; outcome: 'failed'; message: string };

/** Nothing but ignored pods left: nothing to evict or delete, none terminating, none refused. */
export function isDrained(plan: DrainPlan): boolean {
  return plan.evict.length + plan.delete.length + plan.deleting.length + plan.refused.length === 0;
}

export function summarizePass(node: string, plan: DrainPlan, outcomes: PodOutcome[]): DrainPassResult {
  const evicted: string[] = [];
  const deleted: string[] = [];
  const blocked: DrainPassResult['blocked'] = [];
  const failures = new Map<string, string[]>();
  for (const result of [...outcomes].sort((a, b) => byText(a.pod, b.pod))) {
    if (result.outcome === 'blocked') blocked.push({ pod: result.pod, reason: result.reason });
    else if (result.outcome === 'failed') failures.set(result.message, [...(failures.get(result.message) ?? []), result.pod]);
    else (result.outcome === 'evicted' ? evicted : deleted).push(result.pod);
  }
  const failed = [...failures.entries()].map(([message, pods]) => ({ message, pods })).sort((a, b) => byText(a.message, b.message));
  return {
    node,
    drained: isDrained(plan),
    evicted,
    deleted,
    blocked,
    deleting: plan.deleting,
    refused: plan.refused,
    ignored: plan.ignored,
    failed,
  };
}

/** One line for progress views, e.g. "2 to evict, 1 to delete, 0 terminating, 1 refused, 3 ignored". */
export function describePlan(plan: DrainPlan): string {
  return [
    `${plan.evict.length} to evict`,
    `${plan.delete.length} to delete`,
    `${plan.deleting.length} terminating`,
    `${plan.refused.length} refused`,
    `${plan.ignored.length} ignored`,
  ].join(', ');
}

/** One line for progress views, e.g. "2 evicted, 1 deleted, 1 blocked, 1 terminating, 0 failed, 0 refused, 3 ignored". */
export function describePass(pass: DrainPassResult): string {
  if (pass.drained) return `drained (${pass.ignored.length} ignored)`;
  const failed = pass.failed.reduce((n, f) => n + f.pods.length, 0);
  return [
    `${pass.evicted.length} evicted`,
    `${pass.deleted.length} deleted`,
    `${pass.blocked.length} blocked`,
    `${pass.deleting.length} terminating`,
    `${failed} failed`,
    `${pass.refused.length} refused`,
    `${pass.ignored.length} ignored`,
  ].join(', ');
}

/** Each refused pod and what to change to let the drain remove it. */
export function describeRefusals(refused: PlannedPod[]): string {
  return refused.map((r) => `${r.pod}: ${r.reason}`).join('\n');
}

/** Why a drain could not finish, naming every pod still in the way. */
export function describeLeftovers(pass: DrainPassResult): string {
  const lines = [
    ...pass.blocked.map((b) => `${b.pod}: ${b.reason}`),
    ...pass.failed.flatMap((f) => f.pods.map((pod) => `${pod}: ${f.message}`)),
    ...pass.deleting.map((d) => `${d.pod}: still terminating`),
  ];
  return lines.join('\n');
}
