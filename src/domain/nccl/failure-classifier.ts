/**
 * Classifies a failed job attempt from what was observed of it: the nodes, the pods, rank 0's log and
 * whether the log stopped moving. The rules are data, tried in order; the first that matches names the
 * cause and whether another attempt can help. Order matters: a lost node also breaks NCCL's connections,
 * so the node rule comes before the NCCL log rules.
 */

export const FAILURE_CAUSES = [
  'node-lost',
  'pod-evicted',
  'pod-preempted',
  'bad-config',
  'image-pull',
  'hang',
  'nccl-timeout',
  'nccl-error',
  // Not the classifier's: the bandwidth preflight measured the link below its threshold (domain/nccl/preflight.ts).
  'slow-link',
  'unknown',
] as const;
export type FailureCause = (typeof FAILURE_CAUSES)[number];

export interface ObservedNode {
  name: string;
  exists: boolean;
  ready: boolean;
}

export interface ObservedPod {
  name: string;
  node?: string;
  phase?: string;
  /** pod.status.reason, e.g. Evicted, Preempting. */
  reason?: string;
  message?: string;
  /** Reason of the pod's DisruptionTarget condition (PreemptionByScheduler, EvictionByEvictionAPI, DeletionByTaintManager ...). */
  disruption?: string;
  /** A container's waiting reason (ErrImagePull, ImagePullBackOff, CreateContainerConfigError ...) and message. */
  waitingReason?: string;
  waitingMessage?: string;
  /** A terminated container's exit code. */
  exitCode?: number;
}

export interface AttemptObservation {
  nodes: ObservedNode[];
  pods: ObservedPod[];
  /** Rank 0's log (may be empty when the pod never started). */
  log: string;
  /** No log progress for the configured hang time. */
  hung: boolean;
  /** Why the Job itself failed, when it did (BackoffLimitExceeded, DeadlineExceeded, PodFailurePolicy ...). */
  jobReason?: string;
}

export interface Classification {
  cause: FailureCause;
  retryable: boolean;
  /** The evidence, in words, for progress and the result. */
  detail: string;
  /** The nodes the failure is attributed to: a lost node, the node of an evicted pod (bad-node quarantine counts them). */
  nodes?: string[];
}

/** Causes that say something about a node rather than the job: a node lost, or a pod its kubelet evicted. */
const NODE_ATTRIBUTED: readonly FailureCause[] = ['node-lost', 'pod-evicted'];

type Matcher =
  | { kind: 'node-not-ready' }
  | { kind: 'pod-reason'; pattern: RegExp }
  | { kind: 'disruption'; pattern: RegExp }
  | { kind: 'waiting'; reason: RegExp; message?: RegExp }
  | { kind: 'exit-code'; codes: number[] }
  | { kind: 'log'; pattern: RegExp }
  | { kind: 'hung' };

export interface FailureRule {
  cause: FailureCause;
  retryable: boolean;
  match: Matcher;
}

export const FAILURE_RULES: FailureRule[] = [
  { cause: 'node-lost', retryable: true, match: { kind: 'node-not-ready' } },
  { cause: 'node-lost', retryable: true, match: { kind: 'disruption', pattern: /^DeletionByTaintManager$|^DeletionByPodGC$/ } },
  { cause: 'pod-preempted', retryable: true, match: { kind: 'disruption', pattern: /^PreemptionByScheduler$/ } },
  { cause: 'pod-preempted', retryable: true, match: { kind: 'pod-reason', pattern: /^Preempting$/ } },
  { cause: 'pod-evicted', retryable: true, match: { kind: 'pod-reason', pattern: /^Evicted$/ } },
  { cause: 'pod-evicted', retryable: true, match: { kind: 'disruption', pattern: /^EvictionByEvictionAPI$|^TerminationByKubelet$/ } },
  // An image that does not exist or a registry that refuses us stays that way; a flaky registry does not.
  {
    cause: 'bad-config',
    retryable: false,
    match: { kind: 'waiting', reason: /^(ErrImagePull|ImagePullBackOff)$/, message: /not found|manifest unknown|unauthorized|denied/i },
  },
  {
    cause: 'bad-config',
    retryable: false,
    match: { kind: 'waiting', reason: /^(InvalidImageName|CreateContainerConfigError|CreateContainerError|RunContainerError)$/ },
  },
  { cause: 'image-pull', retryable: true, match: { kind: 'waiting', reason: /^(ErrImagePull|ImagePullBackOff)$/ } },
  // 126/127: the command is not executable or not there.
  { cause: 'bad-config', retryable: false, match: { kind: 'exit-code', codes: [126, 127] } },
  {
    cause: 'bad-config',
    retryable: false,
    match: { kind: 'log', pattern: /NCCL WARN Invalid|unrecognized arguments|invalid choice|the following arguments are required/ },
  },
  { cause: 'hang', retryable: true, match: { kind: 'hung' } },
  {
    cause: 'nccl-timeout',
    retryable: true,
    match: { kind: 'log', pattern: /Test timeout|Watchdog caught collective operation timeout|NCCL_TIMEOUT|ncclTimeout/ },
  },
  {
    cause: 'nccl-error',
    retryable: true,
    match: { kind: 'log', pattern: /Test NCCL failure|NCCL WARN|ncclSystemError|ncclRemoteError|ncclInternalError|ncclUnhandledCudaError|NCCL error/ },
  },
];

function matchRule(match: Matcher, observed: AttemptObservation): { detail: string; nodes: string[] } | undefined {
  const on = (pod: ObservedPod | undefined, detail: string) => pod && { detail, nodes: pod.node ? [pod.node] : [] };
  switch (match.kind) {
    case 'node-not-ready': {
      const lost = observed.nodes.filter((n) => !n.exists || !n.ready);
      if (lost.length === 0) return undefined;
      return { detail: lost.map((n) => `node ${n.name} ${n.exists ? 'NotReady' : 'gone'}`).join(', '), nodes: lost.map((n) => n.name) };
    }
    case 'pod-reason': {
      const pod = observed.pods.find((p) => p.reason && match.pattern.test(p.reason));
      return on(pod, `pod ${pod?.name} ${pod?.reason}${pod?.message ? `: ${pod.message}` : ''}`);
    }
    case 'disruption': {
      const pod = observed.pods.find((p) => p.disruption && match.pattern.test(p.disruption));
      return on(pod, `pod ${pod?.name} disrupted (${pod?.disruption})`);
    }
    case 'waiting': {
      const pod = observed.pods.find(
        (p) => p.waitingReason && match.reason.test(p.waitingReason) && (!match.message || match.message.test(p.waitingMessage ?? '')),
      );
      return on(pod, `pod ${pod?.name} ${pod?.waitingReason}${pod?.waitingMessage ? `: ${pod.waitingMessage}` : ''}`);
    }
    case 'exit-code': {
      const pod = observed.pods.find((p) => p.exitCode !== undefined && match.codes.includes(p.exitCode));
      return on(pod, `pod ${pod?.name} exited with ${pod?.exitCode}`);
    }
    case 'log': {
      const line = observed.log.split('\n').find((l) => match.pattern.test(l));
      return line === undefined ? undefined : { detail: `rank 0 log: ${line.trim().slice(0, 300)}`, nodes: [] };
    }
    case 'hung':
      return observed.hung ? { detail: 'no log progress within the hang timeout', nodes: [] } : undefined;
  }
}

export function classifyFailure(observed: AttemptObservation, rules: FailureRule[] = FAILURE_RULES): Classification {
  for (const rule of rules) {
    const matched = matchRule(rule.match, observed);
    if (!matched) continue;
    const nodes = NODE_ATTRIBUTED.includes(rule.cause) && matched.nodes.length > 0 ? { nodes: matched.nodes } : {};
    return { cause: rule.cause, retryable: rule.retryable, detail: matched.detail, ...nodes };
  }
  const failedPod = observed.pods.find((p) => p.exitCode !== undefined && p.exitCode !== 0);
  const detail = failedPod ? `pod ${failedPod.name} exited with ${failedPod.exitCode}` : (observed.jobReason ?? 'no known cause');
  return { cause: 'unknown', retryable: true, detail };
}
