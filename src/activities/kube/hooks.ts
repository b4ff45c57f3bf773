import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type { HookInput, HookPoint } from '../../schemas/rolling.js';
import { apiMessage, isApiStatus } from './clients.js';
import type { KubeClients } from './clients.js';
import { watchUntil } from './watch.js';
import { FailureType } from '../../failures.js';

export const HOOK_LABEL = 'cluster-ops.wcloud.sh/hook';
export const HOOK_NODE_LABEL = 'cluster-ops.wcloud.sh/node';
const LOG_TAIL_LINES = 20;
/** Kept a day for whoever investigates a hook; the Job controller deletes it then. */
const KEEP_FINISHED_SECONDS = 24 * 3600;

export interface RunHookInput {
  hook: HookInput;
  point: HookPoint;
  node: string;
  /** Chosen by the workflow, so a retried activity finds the Job it already created. */
  name: string;
  /** The run that owns the hook, recorded on the Job. */
  owner: string;
}

export interface RunHookResult {
  job: string;
  waitedMs: number;
}

const finished = (job: V1Job | undefined, type: 'Complete' | 'Failed') => job?.status?.conditions?.some((c) => c.type === type && c.status === 'True') === true;

export function createHookActivities({ core, batch, watch }: KubeClients) {
  function jobFor({ hook, point, node, name, owner }: RunHookInput): V1Job {
    const template = structuredClone(hook.job) as V1Job;
    const podSpec = template.spec!.template.spec!;
    const labels = { [HOOK_LABEL]: point, [HOOK_NODE_LABEL]: node };
    for (const container of podSpec.containers) {
      container.env = [...(container.env ?? []), { name: 'NODE_NAME', value: node }, { name: 'HOOK', value: point }];
      // The kubelet then puts the log's tail in the termination message: readable after the pod is gone.
      container.terminationMessagePolicy ??= 'FallbackToLogsOnError';
    }
    podSpec.restartPolicy ??= 'Never';
    if (hook.onNode) {
      podSpec.nodeSelector = { ...podSpec.nodeSelector, 'kubernetes.io/hostname': node };
      // Hooks after the drain run on a cordoned node, like DaemonSet pods do.
      podSpec.tolerations = [...(podSpec.tolerations ?? []), { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }];
    }
    return {
      ...template,
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        ...template.metadata,
        name,
        namespace: hook.namespace,
        labels: { ...template.metadata?.labels, ...labels },
        annotations: { ...template.metadata?.annotations, 'cluster-ops.wcloud.sh/owner': owner },
      },
      spec: {
        ...template.spec!,
        backoffLimit: template.spec!.backoffLimit ?? 0,
        activeDeadlineSeconds: template.spec!.activeDeadlineSeconds ?? hook.timeoutSeconds,
        ttlSecondsAfterFinished: template.spec!.ttlSecondsAfterFinished ?? KEEP_FINISHED_SECONDS,
        template: {
          ...template.spec!.template,
          metadata: { ...template.spec!.template.metadata, labels: { ...template.spec!.template.metadata?.labels, ...labels } },
        },
      },
    };
  }

  /** The newest pod's last log lines; the termination message when the log is gone (or the kubelet is simulated). */
  async function logTail(namespace: string, job: string): Promise<string> {
    const pods = await core.listNamespacedPod({ namespace, labelSelector: `batch.kubernetes.io/job-name=${job}` });
    const newest = pods.items.sort((a, b) => String(b.metadata?.creationTimestamp).localeCompare(String(a.metadata?.creationTimestamp)))[0];
    if (!newest) return '(no pod was created)';
    let refused: string | undefined;
    const log = await core.readNamespacedPodLog({ name: newest.metadata!.name!, namespace, tailLines: LOG_TAIL_LINES }).catch((error: unknown) => {
      // A log the kubelet cannot serve falls back to the termination message; one we may not read says so.
      if (isApiStatus(error, 403)) refused = `(log not readable: ${apiMessage(error)})`;
      return undefined;
    });
    return [log?.trim() || terminationMessages(newest), refused].filter(Boolean).join('\n') || '(no log)';
  }

  return {
    /**
     * Creates the hook's Job (or finds the one an earlier attempt created) and waits for it. A failed or
     * timed-out hook is final: the rolling run stops and shows the hook's log tail.
     */
    async runHookJob(input: RunHookInput): Promise<RunHookResult> {
      const { namespace, timeoutSeconds } = input.hook;
      const where = `hook ${input.point} (Job ${namespace}/${input.name})`;
      await batch.createNamespacedJob({ namespace, body: jobFor(input) }).catch((error: unknown) => {
        if (!isApiStatus(error, 409)) throw error;
      });
      const read = () => batch.listNamespacedJob({ namespace, fieldSelector: `metadata.name=${input.name}` });
      let waitedMs: number;
      try {
        ({ waitedMs } = await watchUntil<V1Job>({
          watch,
          path: `/apis/batch/v1/namespaces/${namespace}/jobs`,
          query: { fieldSelector: `metadata.name=${input.name}` },
          list: read,
          unmet: ([job]) => (finished(job, 'Complete') || finished(job, 'Failed') ? [] : [`${where} still running`]),
          // The Job's own activeDeadlineSeconds fails it first; this only catches a Job that never gets there.
          timeoutSeconds: timeoutSeconds + 60,
          what: where,
        }));
      } catch (error) {
        if ((error as ApplicationFailure).type !== FailureType.WaitTimedOut) throw error;
        const tail = await logTail(namespace, input.name);
        await batch.deleteNamespacedJob({ name: input.name, namespace, propagationPolicy: 'Background' }).catch(() => undefined);
        throw ApplicationFailure.nonRetryable(`${where} did not finish in ${timeoutSeconds}s; deleted it. Log tail:\n${tail}`, FailureType.HookFailed);
      }
      const [job] = (await read()).items;
      if (finished(job, 'Failed')) {
        const reason = job!.status!.conditions!.find((c) => c.type === 'Failed')?.message ?? 'failed';
        throw ApplicationFailure.nonRetryable(`${where} failed: ${reason}. Log tail:\n${await logTail(namespace, input.name)}`, FailureType.HookFailed);
      }
      return { job: `${namespace}/${input.name}`, waitedMs };
    },
  };
}

function terminationMessages(pod: V1Pod): string | undefined {
  const messages = (pod.status?.containerStatuses ?? []).map((c) => c.state?.terminated?.message?.trim()).filter((m): m is string => Boolean(m));
  return messages.length ? messages.join('\n') : undefined;
}
