import type { V1DaemonSet, V1Pod } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../failures.js';
import type { KubeClients } from './clients.js';
import { watchUntil } from './watch.js';

export interface DaemonPodInput {
  namespace: string;
  daemonSet: string;
  node: string;
}

export interface RestartDaemonPodResult {
  /** False when the node's pod already runs the DaemonSet's current template (a retry, or nothing to do). */
  restarted: boolean;
  /** The DaemonSet generation the node's pod must run after the restart. */
  generation: number;
  deletedPod?: string;
}

const TEMPLATE_GENERATION_LABEL = 'pod-template-generation';

function selectorOf(daemonSet: V1DaemonSet): string {
  const labels = daemonSet.spec?.selector.matchLabels ?? {};
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

const isReady = (pod: V1Pod) => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
const isCurrent = (pod: V1Pod, generation: number) =>
  pod.metadata?.labels?.[TEMPLATE_GENERATION_LABEL] === String(generation) && !pod.metadata?.deletionTimestamp;

export function createDaemonSetActivities({ core, apps, watch }: KubeClients) {
  async function podsOn({ namespace, daemonSet, node }: DaemonPodInput) {
    const ds = await apps.readNamespacedDaemonSet({ name: daemonSet, namespace });
    const labelSelector = selectorOf(ds);
    const fieldSelector = `spec.nodeName=${node}`;
    return { ds, labelSelector, fieldSelector, pods: await core.listNamespacedPod({ namespace, labelSelector, fieldSelector }) };
  }

  return {
    /**
     * Deletes the node's DaemonSet pod so the DaemonSet controller recreates it from the current template
     * (the DaemonSet uses updateStrategy OnDelete). Check, then act: a pod already on the current
     * template is left alone, so a retry never restarts it twice.
     */
    async restartDaemonPod(input: DaemonPodInput): Promise<RestartDaemonPodResult> {
      const { ds, pods } = await podsOn(input);
      const generation = ds.metadata?.generation ?? 0;
      if (ds.spec?.updateStrategy?.type !== 'OnDelete') {
        throw ApplicationFailure.nonRetryable(
          `DaemonSet ${input.namespace}/${input.daemonSet} uses ${ds.spec?.updateStrategy?.type ?? 'RollingUpdate'}, not OnDelete: its pods restart on their own`,
          FailureType.UnexpectedUpdateStrategy,
        );
      }
      const stale = pods.items.filter((pod) => !isCurrent(pod, generation) && !pod.metadata?.deletionTimestamp);
      if (stale.length === 0) return { restarted: false, generation };
      for (const pod of stale) await core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace: input.namespace });
      return { restarted: true, generation, deletedPod: stale.map((pod) => pod.metadata!.name!).join(',') };
    },

    /**
     * Waits (by watch) for the node's DaemonSet pod of template generation `generation` (default: the
     * DaemonSet's current one) to be Ready.
     */
    async waitForDaemonPod(input: DaemonPodInput & { generation?: number; timeoutSeconds: number }): Promise<{ pod: string }> {
      const { ds, labelSelector, fieldSelector } = await podsOn(input);
      const generation = input.generation ?? ds.metadata?.generation ?? 0;
      let readyPod = '';
      await watchUntil<V1Pod>({
        watch,
        path: `/api/v1/namespaces/${input.namespace}/pods`,
        query: { labelSelector, fieldSelector },
        list: () => core.listNamespacedPod({ namespace: input.namespace, labelSelector, fieldSelector }),
        unmet: (pods) => {
          const ready = pods.find((pod) => isCurrent(pod, generation) && isReady(pod));
          readyPod = ready?.metadata?.name ?? '';
          return ready ? [] : [`no Ready ${input.daemonSet} pod of template generation ${generation} on ${input.node}`];
        },
        timeoutSeconds: input.timeoutSeconds,
        what: `DaemonSet ${input.namespace}/${input.daemonSet} on ${input.node}`,
      });
      return { pod: readyPod };
    },
  };
}
