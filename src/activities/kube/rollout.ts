import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { V1Deployment, V1StatefulSet } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type { KubeClients } from './clients.js';
import { isApiStatus } from './clients.js';
import { watchUntil } from './watch.js';
import { FailureType } from '../../failures.js';

/** The annotation `kubectl rollout restart` sets on the pod template. */
export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

export interface WorkloadInput {
  kind: 'Deployment' | 'StatefulSet';
  namespace: string;
  name: string;
}

type Workload = V1Deployment | V1StatefulSet;

/** What still keeps a Deployment or StatefulSet from having rolled out its current template. */
function rolloutUnmet(w: Workload | undefined): string[] {
  if (!w) return ['does not exist'];
  const generation = w.metadata?.generation ?? 0;
  const status = w.status;
  const wanted = w.spec?.replicas ?? 1;
  const unmet: string[] = [];
  if ((status?.observedGeneration ?? 0) < generation) unmet.push(`generation ${generation} not observed yet`);
  if ((status?.updatedReplicas ?? 0) < wanted) unmet.push(`${status?.updatedReplicas ?? 0}/${wanted} updated`);
  if ((status?.readyReplicas ?? 0) < wanted) unmet.push(`${status?.readyReplicas ?? 0}/${wanted} ready`);
  if ((status?.replicas ?? 0) > wanted) unmet.push(`${status?.replicas} replicas, old ones still terminating`);
  if ('updateRevision' in (status ?? {})) {
    const s = status as V1StatefulSet['status'];
    if (s?.currentRevision !== s?.updateRevision) unmet.push('StatefulSet revision not current yet');
  }
  return unmet;
}

export function createRolloutActivities({ apps, watch }: KubeClients) {
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const read = async ({ kind, namespace, name }: WorkloadInput): Promise<Workload> => {
    try {
      return await (kind === 'Deployment' ? apps.readNamespacedDeployment({ namespace, name }) : apps.readNamespacedStatefulSet({ namespace, name }));
    } catch (error) {
      if (isApiStatus(error, 404)) throw ApplicationFailure.nonRetryable(`${kind} ${namespace}/${name} does not exist`, FailureType.WorkloadNotFound);
      throw error;
    }
  };

  return {
    /**
     * `kubectl rollout restart`: stamps the pod template with `restartedAt`. Check, then act: a template
     * already carrying this stamp (a retry) is not restarted again.
     */
    async restartWorkload(input: WorkloadInput & { restartedAt: string }): Promise<{ restarted: boolean; generation: number }> {
      const workload = await read(input);
      if (workload.spec?.template.metadata?.annotations?.[RESTARTED_AT] === input.restartedAt) {
        return { restarted: false, generation: workload.metadata?.generation ?? 0 };
      }
      const body = { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: input.restartedAt } } } } };
      const { namespace, name } = input;
      const patched: Workload =
        input.kind === 'Deployment'
          ? await apps.patchNamespacedDeployment({ namespace, name, body }, mergePatch)
          : await apps.patchNamespacedStatefulSet({ namespace, name, body }, mergePatch);
      return { restarted: true, generation: patched.metadata?.generation ?? 0 };
    },

    /** Waits (by watch) until the workload runs its current template on every replica (`kubectl rollout status`). */
    async waitForRollout(input: WorkloadInput & { timeoutSeconds: number }): Promise<{ waitedMs: number }> {
      const { kind, namespace, name } = input;
      const fieldSelector = `metadata.name=${name}`;
      const plural = kind === 'Deployment' ? 'deployments' : 'statefulsets';
      return watchUntil<Workload>({
        watch,
        path: `/apis/apps/v1/namespaces/${namespace}/${plural}`,
        query: { fieldSelector },
        list: () =>
          kind === 'Deployment' ? apps.listNamespacedDeployment({ namespace, fieldSelector }) : apps.listNamespacedStatefulSet({ namespace, fieldSelector }),
        unmet: ([w]) => rolloutUnmet(w),
        timeoutSeconds: input.timeoutSeconds,
        what: `${kind} ${namespace}/${name} rollout`,
      });
    },
  };
}
