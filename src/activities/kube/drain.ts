import { Context } from '@temporalio/activity';
import { setTimeout as delay } from 'node:timers/promises';
import { daemonSetControllers, isDrained, planDrain, podKey, summarizePass } from '../../domain/drain.js';
import type { DrainPassResult, DrainPlan, DrainPodPolicy, PodOutcome } from '../../domain/drain.js';
import { apiMessage, isApiStatus, podFacts, unlessNotFound } from './clients.js';
import type { KubeClients } from './clients.js';
import { readNodeOrGone } from './nodes.js';

export interface PlanNodeDrainInput {
  node: string;
  policy: DrainPodPolicy;
}

export interface DrainPassInput extends PlanNodeDrainInput {
  gracePeriodSeconds?: number;
}

/**
 * How long a pass waits for the pods it removed to be gone before it returns, as kubectl drain waits for
 * deletions: most pods end within their grace period, so the drain then finishes in this pass instead of
 * after the workflow's pause before the next. Well inside the activity's heartbeat timeout.
 */
const GONE_WAIT_MS = 10_000;
const GONE_POLL_MS = 250;
/**
 * A cancellation (an abort of the run) reaches an activity only in the answer to one of its heartbeats, so a
 * pass keeps sending them even while one API call is slow, and checks for it before each pod it removes.
 */
const HEARTBEAT_EVERY_MS = 1_000;

export function createDrainActivities({ core, apps }: KubeClients) {
  /** The node's pods sorted by the policy, and each pod's UID (a finished pod is deleted only as it was read). */
  async function planFor({ node, policy }: PlanNodeDrainInput) {
    const { items } = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` });
    const pods = items.map(podFacts);
    const liveDaemonSets = await liveDaemonSetUids(daemonSetControllers(pods));
    const uids = new Map(items.map((pod, i) => [podKey(pods[i]!), pod.metadata?.uid ?? '']));
    return { plan: planDrain({ pods, policy, liveDaemonSets }), uids };
  }

  /**
   * Reads each DaemonSet once: only pods of one that exists come straight back on a cordoned node. One
   * being deleted counts as gone: its controller no longer makes pods, and the garbage collector removes
   * or orphans the ones it has.
   */
  async function liveDaemonSetUids(daemonSets: { namespace: string; name: string }[]): Promise<Set<string>> {
    const found = await Promise.all(
      daemonSets.map(({ namespace, name }) =>
        unlessNotFound(apps.readNamespacedDaemonSet({ namespace, name })).then((daemonSet) =>
          daemonSet?.metadata?.deletionTimestamp ? undefined : daemonSet?.metadata?.uid,
        ),
      ),
    );
    return new Set(found.filter((uid) => uid !== undefined));
  }

  return {
    /** What a drain of this node would do now, pod by pod and why; reads only. */
    async planNodeDrain(input: PlanNodeDrainInput): Promise<DrainPlan> {
      return (await planFor(input)).plan;
    },

    /**
     * One bounded drain pass, after kubectl's and Cluster API's drain: delete finished pods, evict every
     * pod that may go through the Eviction API, record what a PodDisruptionBudget refused (HTTP 429) or
     * what failed, and return. While the policy refuses any pod the pass removes nothing, as kubectl does:
     * a drain that cannot finish should not disrupt the rest. The workflow repeats passes with durable
     * sleeps until the node is drained or its deadline passes.
     */
    async drainPass({ node, policy, gracePeriodSeconds }: DrainPassInput): Promise<DrainPassResult> {
      const context = Context.current();
      let doing: Record<string, unknown> = { planning: node };
      const report = (now: Record<string, unknown>) => context.heartbeat((doing = now));
      const beat = setInterval(() => context.heartbeat(doing), HEARTBEAT_EVERY_MS);
      try {
        // A deleted node has no pods left to list, which would look like a finished drain.
        await readNodeOrGone(core, node);
        const { plan, uids } = await planFor({ node, policy });
        const outcomes: PodOutcome[] = [];
        if (plan.refused.length === 0) {
          for (const { pod } of plan.delete) {
            context.cancellationSignal.throwIfAborted();
            report({ deleting: pod });
            outcomes.push(await deleteFinished(pod, uids.get(pod)!));
          }
          for (const { pod } of plan.evict) {
            context.cancellationSignal.throwIfAborted();
            report({ evicting: pod });
            outcomes.push(await evict(pod, gracePeriodSeconds));
          }
        }
        const pass = summarizePass(node, plan, outcomes);
        const onlyRemovals = pass.blocked.length === 0 && pass.failed.length === 0 && pass.refused.length === 0;
        if (pass.drained || !onlyRemovals) return pass;
        const left = await untilGone({ node, policy }, context.cancellationSignal, report);
        return left ? { ...pass, drained: true, deleting: [], ignored: left.ignored } : pass;
      } finally {
        clearInterval(beat);
      }
    },
  };

  /** The node's plan once only ignored pods are left, or undefined if that takes longer than GONE_WAIT_MS. */
  async function untilGone(input: PlanNodeDrainInput, cancelled: AbortSignal, report: (now: Record<string, unknown>) => void): Promise<DrainPlan | undefined> {
    const deadline = Date.now() + GONE_WAIT_MS;
    while (Date.now() < deadline) {
      await delay(GONE_POLL_MS, undefined, { signal: cancelled });
      const { plan } = await planFor(input);
      report({ terminating: plan.deleting.length });
      if (isDrained(plan)) return plan;
      // A pod that showed up meanwhile (or one now refused) is the next pass's to handle.
      if (plan.evict.length + plan.delete.length + plan.refused.length > 0) return undefined;
    }
    return undefined;
  }

  async function evict(pod: string, gracePeriodSeconds?: number): Promise<PodOutcome> {
    const [namespace, name] = pod.split('/') as [string, string];
    try {
      await core.createNamespacedPodEviction({
        name,
        namespace,
        body: {
          apiVersion: 'policy/v1',
          kind: 'Eviction',
          metadata: { name, namespace },
          deleteOptions: gracePeriodSeconds === undefined ? undefined : { gracePeriodSeconds },
        },
      });
      return { pod, outcome: 'evicted' };
    } catch (error) {
      if (isApiStatus(error, 404)) return { pod, outcome: 'evicted' };
      if (isApiStatus(error, 429)) return { pod, outcome: 'blocked', reason: apiMessage(error) };
      return { pod, outcome: 'failed', message: apiMessage(error) };
    }
  }

  /**
   * A finished pod has nothing left to disrupt, so a plain delete (no PodDisruptionBudget applies). The
   * UID precondition deletes only the pod that was read finished, never a new one of the same name.
   */
  async function deleteFinished(pod: string, uid: string): Promise<PodOutcome> {
    const [namespace, name] = pod.split('/') as [string, string];
    try {
      await core.deleteNamespacedPod({ name, namespace, body: { preconditions: { uid } } });
      return { pod, outcome: 'deleted' };
    } catch (error) {
      // Gone (404), or replaced by a pod of the same name (409, precondition failed): the one we read is gone.
      if (isApiStatus(error, 404) || isApiStatus(error, 409)) return { pod, outcome: 'deleted' };
      return { pod, outcome: 'failed', message: apiMessage(error) };
    }
  }
}
