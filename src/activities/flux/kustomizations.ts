import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { KubeClients } from '../kube/clients.js';
import { watchUntil } from '../kube/watch.js';

const GROUP = 'kustomize.toolkit.fluxcd.io';
const VERSION = 'v1';
const PLURAL = 'kustomizations';
export const RECONCILE_REQUESTED_AT = 'reconcile.fluxcd.io/requestedAt';

export interface KustomizationRef {
  namespace: string;
  name: string;
}

interface Kustomization {
  metadata?: { name?: string; uid?: string };
  status?: {
    lastAppliedRevision?: string;
    lastHandledReconcileAt?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

export function createFluxActivities({ custom, watch }: KubeClients) {
  return {
    /** Asks Flux to reconcile now instead of at its next interval (what `flux reconcile` does). */
    async requestReconcile({ namespace, name }: KustomizationRef): Promise<{ requestedAt: string }> {
      const requestedAt = new Date().toISOString();
      await custom.patchNamespacedCustomObject(
        { group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body: { metadata: { annotations: { [RECONCILE_REQUESTED_AT]: requestedAt } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      return { requestedAt };
    },

    /** Waits (by watch) until Flux has applied a revision containing `commit` and reports Ready. */
    async waitForAppliedRevision({ namespace, name, commit, timeoutSeconds }: KustomizationRef & { commit: string; timeoutSeconds: number }) {
      let revision = '';
      const { waitedMs } = await watchUntil<Kustomization>({
        watch,
        path: `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`,
        query: { fieldSelector: `metadata.name=${name}` },
        list: async () =>
          (await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, fieldSelector: `metadata.name=${name}` })) as {
            items: Kustomization[];
            metadata?: { resourceVersion?: string };
          },
        unmet: ([kustomization]) => {
          if (!kustomization) return [`Kustomization ${namespace}/${name} does not exist`];
          revision = kustomization.status?.lastAppliedRevision ?? '';
          const ready = kustomization.status?.conditions?.find((c) => c.type === 'Ready');
          const unmet = [];
          if (!revision.includes(commit)) unmet.push(`last applied revision is ${revision || 'none'}, want ${commit}`);
          if (ready?.status !== 'True') unmet.push(`Ready is ${ready?.status ?? 'absent'}${ready?.message ? `: ${ready.message}` : ''}`);
          return unmet;
        },
        timeoutSeconds,
        what: `Kustomization ${namespace}/${name}`,
      });
      return { revision, waitedMs };
    },
  };
}
