import { setTimeout as delay } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { AttemptObservation, ObservedNode, ObservedPod } from '../../domain/nccl/failure-classifier.js';
import { summarizeNcclLog } from '../../domain/nccl/summary.js';
import type { NcclSummary } from '../../domain/nccl/summary.js';
import { NcclParseError } from '../../domain/nccl/tests-output.js';
import { attemptName } from '../../schemas/nccl-job.js';
import type { NcclJobSpec } from '../../schemas/nccl-job.js';
import { failForGoodOn, FailureType } from '../../failures.js';
import { apiMessage, isApiStatus, unlessNotFound } from '../kube/clients.js';
import type { KubeClients } from '../kube/clients.js';
import { ATTEMPT_LABEL, checkpointClaimManifest, jobManifest, NCCL_JOB_LABEL, serviceManifest } from './manifests.js';
import type { AttemptSpec } from './manifests.js';
import { quarantineOf } from './quarantine.js';
import { kubePodLogs, podCheckpointLister } from './sources.js';

const COMPLETION_INDEX_LABEL = 'batch.kubernetes.io/job-completion-index';
/** What the result and history keep of rank 0's log; the whole log stays with the pod (or its archive). */
const LOG_TAIL_CHARS = 4_000;

type JobRef = Pick<NcclJobSpec, 'namespace' | 'name'>;

export interface WaitForJobNodesInput {
  nodes: string[];
  vfsPerPod: number;
  timeoutSeconds: number;
  pollSeconds: number;
}

export interface WatchAttemptInput {
  spec: Pick<NcclJobSpec, 'namespace' | 'name' | 'nodes' | 'hangSeconds' | 'attemptTimeoutSeconds' | 'pollSeconds'>;
  attempt: number;
}

export interface WatchAttemptResult {
  outcome: 'succeeded' | 'failed';
  observation: AttemptObservation;
  logLines: number;
}

export interface SummarizeInput {
  ref: JobRef;
  attempt: number;
  lineRateGBps: number;
  baseline?: { peakBusBwGBps: number; tolerance: number };
}

const isReady = (node: V1Node) => node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
const terminated = (pod: V1Pod) => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';

/** Quantities of the extended resources we count are plain integers. */
function requested(pod: V1Pod, resource: string): number {
  return (pod.spec?.containers ?? []).reduce((sum, c) => sum + Number(c.resources?.requests?.[resource] ?? c.resources?.limits?.[resource] ?? 0), 0);
}

export function observePod(pod: V1Pod): ObservedPod {
  const container = pod.status?.containerStatuses?.[0];
  return {
    name: pod.metadata?.name ?? '',
    node: pod.spec?.nodeName,
    phase: pod.status?.phase,
    reason: pod.status?.reason,
    message: pod.status?.message,
    disruption: pod.status?.conditions?.find((c) => c.type === 'DisruptionTarget' && c.status === 'True')?.reason,
    waitingReason: container?.state?.waiting?.reason,
    waitingMessage: container?.state?.waiting?.message,
    exitCode: container?.state?.terminated?.exitCode,
  };
}

const tail = (text: string) => (text.length > LOG_TAIL_CHARS ? text.slice(-LOG_TAIL_CHARS) : text);
const lineCount = (text: string) => text.split('\n').filter(Boolean).length;

export function createNcclJobActivities({ core, batch }: KubeClients) {
  const logs = kubePodLogs(core);
  const checkpoints = podCheckpointLister(core, logs);
  const attemptSelector = (ref: JobRef, attempt: number) => `${NCCL_JOB_LABEL}=${ref.name},${ATTEMPT_LABEL}=${attempt}`;
  const attemptPods = async (ref: JobRef, attempt: number) =>
    (await core.listNamespacedPod({ namespace: ref.namespace, labelSelector: attemptSelector(ref, attempt) })).items;
  const rank0Pod = (pods: V1Pod[]) => pods.find((p) => p.metadata?.labels?.[COMPLETION_INDEX_LABEL] === '0');
  /**
   * Rank 0's log so far: empty while the container has none yet (not started, or its node gone). A refusal
   * is no such moment: it fails the watch naming the verb and resource the worker lacks.
   */
  const readLog = async (ref: JobRef, pod: V1Pod | undefined) =>
    pod
      ? logs.read(ref.namespace, pod.metadata!.name!).catch((error: unknown) => {
          if (isApiStatus(error, 403)) throw error;
          return '';
        })
      : '';

  async function observeNodes(names: string[]): Promise<ObservedNode[]> {
    return Promise.all(
      names.map(async (name) => {
        try {
          const node = await core.readNode({ name });
          return { name, exists: true, ready: isReady(node) };
        } catch (error) {
          if (isApiStatus(error, 404)) return { name, exists: false, ready: false };
          throw error;
        }
      }),
    );
  }

  async function freeResources(node: string): Promise<{ gpus: number; vfs: number; node?: V1Node }> {
    const [nodeObject, pods] = await Promise.all([
      unlessNotFound(core.readNode({ name: node })),
      core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` }),
    ]);
    const running = pods.items.filter((p) => !terminated(p));
    const free = (resource: string) => Number(nodeObject?.status?.allocatable?.[resource] ?? 0) - running.reduce((sum, p) => sum + requested(p, resource), 0);
    return { gpus: free('nvidia.com/gpu'), vfs: free('nvidia.com/cx7_qsfp'), node: nodeObject };
  }

  return {
    /**
     * Waits until every node is Ready, schedulable and not quarantined, with a free GPU and enough free VFs (allocatable
     * minus what running pods request). Samples every pollSeconds: free capacity changes with other
     * pods, which no single watch covers.
     */
    async waitForJobNodes({ nodes, vfsPerPod, timeoutSeconds, pollSeconds }: WaitForJobNodesInput): Promise<{ waitedMs: number }> {
      const started = Date.now();
      const context = Context.current();
      for (;;) {
        const unmet: string[] = [];
        for (const name of nodes) {
          const { gpus, vfs, node } = await freeResources(name);
          if (!node) unmet.push(`node ${name} does not exist`);
          else if (!isReady(node)) unmet.push(`node ${name} is not Ready`);
          else if (node.spec?.unschedulable) unmet.push(`node ${name} is cordoned`);
          else if (quarantineOf(node)) unmet.push(`node ${name} is quarantined (${quarantineOf(node)!.reason}): lift it once repaired`);
          else {
            if (gpus < 1) unmet.push(`node ${name} has no free nvidia.com/gpu`);
            if (vfs < vfsPerPod) unmet.push(`node ${name} has ${vfs} free nvidia.com/cx7_qsfp, want ${vfsPerPod}`);
          }
        }
        context.heartbeat({ unmet });
        if (unmet.length === 0) return { waitedMs: Date.now() - started };
        if (Date.now() - started > timeoutSeconds * 1000) {
          throw ApplicationFailure.nonRetryable(`nodes not available after ${timeoutSeconds}s: ${unmet.join('; ')}`, FailureType.NodesUnavailable);
        }
        await delay(pollSeconds * 1000, undefined, { signal: context.cancellationSignal });
      }
    },

    /** Creates the attempt's Service and Job (and the training's checkpoint claim) unless they exist. */
    async createJobAttempt(input: AttemptSpec & { spec: NcclJobSpec }): Promise<{ job: string }> {
      const { spec } = input;
      const create = async (what: string, make: () => Promise<unknown>) => {
        try {
          await make();
        } catch (error) {
          if (isApiStatus(error, 409)) return;
          if (isApiStatus(error, 422) || isApiStatus(error, 400)) {
            throw ApplicationFailure.nonRetryable(`the API server refused the ${what}: ${apiMessage(error)}`, FailureType.BadConfig);
          }
          throw error;
        }
      };
      if (spec.kind === 'training') {
        await create('checkpoint claim', () => core.createNamespacedPersistentVolumeClaim({ namespace: spec.namespace, body: checkpointClaimManifest(spec) }));
      }
      await create('Service', () => core.createNamespacedService({ namespace: spec.namespace, body: serviceManifest(input) }));
      await create('Job', () => batch.createNamespacedJob({ namespace: spec.namespace, body: jobManifest(input) }));
      return { job: attemptName(spec.name, input.attempt) };
    },

    /**
     * Follows one attempt until its Job succeeds or something fails: the Job, a pod (failed, evicted,
     * preempted, stuck pulling its image), a node the pods run on (NotReady or gone), or rank 0's log,
     * which must grow at least once per hangSeconds. Samples every pollSeconds and heartbeats.
     */
    async watchJobAttempt({ spec, attempt }: WatchAttemptInput): Promise<WatchAttemptResult> {
      const context = Context.current();
      const job = attemptName(spec.name, attempt);
      const deadline = Date.now() + spec.attemptTimeoutSeconds * 1000;
      let log = '';
      let lastProgress = Date.now();
      for (;;) {
        const [jobObject, pods, nodes] = await Promise.all([
          unlessNotFound(batch.readNamespacedJob({ name: job, namespace: spec.namespace })),
          attemptPods(spec, attempt),
          observeNodes(spec.nodes),
        ]);
        const rank0 = rank0Pod(pods);
        const current = await readLog(spec, rank0);
        // The hang clock runs from rank 0's start: pulling a large image or waiting to be scheduled is no hang.
        if (current.length > log.length || rank0?.status?.phase !== 'Running') lastProgress = Date.now();
        log = current.length >= log.length ? current : log;
        const conditions = jobObject?.status?.conditions ?? [];
        const hasCondition = (type: string) => conditions.find((c) => c.type === type && c.status === 'True');
        const observedPods = pods.map(observePod);
        const failed = (hung: boolean, jobReason?: string): WatchAttemptResult => ({
          outcome: 'failed',
          observation: { nodes, pods: observedPods, log: tail(log), hung, jobReason },
          logLines: lineCount(log),
        });
        context.heartbeat({ logLines: lineCount(log), idleSeconds: Math.round((Date.now() - lastProgress) / 1000) });

        if (hasCondition('Complete') || hasCondition('SuccessCriteriaMet')) {
          return { outcome: 'succeeded', observation: { nodes, pods: observedPods, log: tail(log), hung: false }, logLines: lineCount(log) };
        }
        const failedCondition = hasCondition('Failed') ?? hasCondition('FailureTarget');
        if (failedCondition) return failed(false, failedCondition.reason ?? 'Failed');
        if (!jobObject) return failed(false, `Job ${job} is gone`);
        if (nodes.some((n) => !n.ready)) return failed(false);
        if (observedPods.some((p) => p.phase === 'Failed' || p.disruption || p.reason === 'Evicted')) return failed(false);
        if (observedPods.some((p) => /ErrImagePull|ImagePullBackOff|InvalidImageName|CreateContainer/.test(p.waitingReason ?? ''))) {
          return failed(false);
        }
        if (Date.now() - lastProgress > spec.hangSeconds * 1000) return failed(true);
        if (Date.now() > deadline) return failed(true, 'attempt timeout');
        await delay(spec.pollSeconds * 1000, undefined, { signal: context.cancellationSignal });
      }
    },

    /** Reads rank 0's log and summarizes the benchmark; output nccl-tests did not finish writing fails for good. */
    async summarizeBenchmark({ ref, attempt, lineRateGBps, baseline }: SummarizeInput): Promise<{ summary: NcclSummary }> {
      const pod = rank0Pod(await attemptPods(ref, attempt));
      if (!pod) throw new Error(`no rank 0 pod for ${attemptName(ref.name, attempt)}`);
      const log = await logs.read(ref.namespace, pod.metadata!.name!);
      const summary = failForGoodOn(
        NcclParseError,
        FailureType.NcclParseFailed,
        () => summarizeNcclLog(log, { lineRateGBps, baseline }),
        `rank 0 log of ${pod.metadata!.name}: `,
      );
      return { summary };
    },

    /** Deletes every attempt's Job and Service (pods go with their Job) and waits until no pod is left. */
    async cleanupJob({ ref, timeoutSeconds }: { ref: JobRef; timeoutSeconds: number }): Promise<{ deleted: string[] }> {
      const context = Context.current();
      const selector = `${NCCL_JOB_LABEL}=${ref.name}`;
      const deleted: string[] = [];
      const ignoreGone = (error: unknown) => {
        if (!isApiStatus(error, 404)) throw error;
      };
      for (const job of (await batch.listNamespacedJob({ namespace: ref.namespace, labelSelector: selector })).items) {
        await batch.deleteNamespacedJob({ name: job.metadata!.name!, namespace: ref.namespace, propagationPolicy: 'Background' }).catch(ignoreGone);
        deleted.push(`Job/${job.metadata!.name}`);
      }
      for (const service of (await core.listNamespacedService({ namespace: ref.namespace, labelSelector: selector })).items) {
        await core.deleteNamespacedService({ name: service.metadata!.name!, namespace: ref.namespace }).catch(ignoreGone);
        deleted.push(`Service/${service.metadata!.name}`);
      }
      const deadline = Date.now() + timeoutSeconds * 1000;
      for (;;) {
        const pods = (await core.listNamespacedPod({ namespace: ref.namespace, labelSelector: selector })).items;
        context.heartbeat({ podsLeft: pods.length });
        if (pods.length === 0) return { deleted };
        // Pods on a lost node never confirm their deletion: remove them, as the node's kubelet is gone.
        for (const pod of pods) {
          const onLostNode = pod.spec?.nodeName && !(await observeNodes([pod.spec.nodeName]))[0]!.ready;
          if (onLostNode) {
            await core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace: ref.namespace, gracePeriodSeconds: 0 }).catch(ignoreGone);
          }
        }
        if (Date.now() > deadline) throw new Error(`pods still there after ${timeoutSeconds}s: ${pods.map((p) => p.metadata!.name).join(', ')}`);
        await delay(1_000);
      }
    },

    /** The newest checkpoint in the training's claim, to resume from. */
    async newestCheckpoint({ ref, claim, dir }: { ref: JobRef; claim: string; dir: string }): Promise<{ newest?: string; count: number }> {
      try {
        await core.readNamespacedPersistentVolumeClaim({ name: claim, namespace: ref.namespace });
      } catch (error) {
        // The first attempt of a new training creates the claim: nothing to resume from yet.
        if (isApiStatus(error, 404)) return { count: 0 };
        throw error;
      }
      const found = await checkpoints.list({ namespace: ref.namespace, claim, dir });
      return { newest: found.at(-1), count: found.length };
    },
  };
}
