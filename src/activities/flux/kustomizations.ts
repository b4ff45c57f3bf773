import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { buildGraph, FluxGraphError, toKustomization } from '../../domain/flux-graph.js';
import type { FluxGraph } from '../../domain/flux-graph.js';
import { failForGoodOn } from '../failures.js';
import type { KubeClients } from '../kube/clients.js';
import { watchUntil } from '../kube/watch.js';
import type { WatchUntilOptions } from '../kube/watch.js';

const GROUP = 'kustomize.toolkit.fluxcd.io';
const VERSION = 'v1';
const PLURAL = 'kustomizations';
export const RECONCILE_REQUESTED_AT = 'reconcile.fluxcd.io/requestedAt';

export interface KustomizationRef {
  namespace: string;
  name: string;
}

interface Kustomization {
  metadata?: { name?: string; namespace?: string; uid?: string };
  spec?: { path?: string; suspend?: boolean; dependsOn?: { name: string; namespace?: string }[] };
  status?: {
    lastAppliedRevision?: string;
    lastHandledReconcileAt?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

/** Ready=False reasons that mean "not yet", not "failed". */
export const INVALID_FLUX_GRAPH = 'InvalidFluxGraph';

const TRANSIENT_REASONS = new Set(['DependencyNotReady', 'Progressing', 'ProgressingWithRetry']);

export function createFluxActivities({ custom, watch }: KubeClients) {
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const list = async (namespace: string, fieldSelector?: string) =>
    (await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, fieldSelector })) as {
      items: Kustomization[];
      metadata?: { resourceVersion?: string };
    };

  /** Watches one Kustomization until `unmet` comes back empty (or `failed` reports a terminal failure). */
  const watchKustomization = (
    { namespace, name }: KustomizationRef,
    until: Pick<WatchUntilOptions<Kustomization>, 'unmet' | 'failed' | 'timeoutSeconds'>,
  ) =>
    watchUntil<Kustomization>({
      watch,
      path: `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`,
      query: { fieldSelector: `metadata.name=${name}` },
      list: () => list(namespace, `metadata.name=${name}`),
      what: `Kustomization ${namespace}/${name}`,
      ...until,
    });

  return {
    /** The live cluster's Kustomizations as a validated graph; a bad graph fails for good, naming the problem. */
    async readFluxGraph({ namespace }: { namespace: string }): Promise<FluxGraph> {
      const { items } = await list(namespace);
      return failForGoodOn(FluxGraphError, INVALID_FLUX_GRAPH, () => buildGraph(items.map((item) => toKustomization(item, namespace))));
    },

    /**
     * Requests a reconcile (the annotation `flux reconcile` sets; optionally un-suspending first) and waits
     * by watch until Flux has handled that very request: Ready=True, or a terminal failure with Flux's message.
     */
    async reconcileKustomization(input: KustomizationRef & { timeoutSeconds: number; resume: boolean }) {
      const { namespace, name } = input;
      const requestedAt = new Date().toISOString();
      await custom.patchNamespacedCustomObject(
        {
          group: GROUP, version: VERSION, namespace, plural: PLURAL, name,
          body: { metadata: { annotations: { [RECONCILE_REQUESTED_AT]: requestedAt } }, ...(input.resume ? { spec: { suspend: false } } : {}) },
        },
        mergePatch,
      );
      const handled = (k?: Kustomization) => k?.status?.lastHandledReconcileAt === requestedAt;
      const readyOf = (k?: Kustomization) => k?.status?.conditions?.find((c) => c.type === 'Ready');
      const { waitedMs } = await watchKustomization(input, {
        failed: ([k]) => {
          const ready = readyOf(k);
          if (!handled(k) || ready?.status !== 'False' || TRANSIENT_REASONS.has(ready.reason ?? '')) return undefined;
          return `${namespace}/${name}: ${ready.reason}: ${ready.message}`;
        },
        unmet: ([k]) => (handled(k) && readyOf(k)?.status === 'True' ? [] : [`${readyOf(k)?.reason ?? 'not reconciled'}: ${readyOf(k)?.message ?? ''}`]),
        timeoutSeconds: input.timeoutSeconds,
      });
      return { name, waitedMs, message: readyOf((await list(namespace, `metadata.name=${name}`)).items[0])?.message ?? '' };
    },

    /** Kustomizations whose Ready=False is a failure, not a step on the way (the health gate between nodes). */
    async failingKustomizations({ namespace }: { namespace: string }): Promise<string[]> {
      const { items } = await list(namespace);
      return items.flatMap((k) => {
        const ready = k.status?.conditions?.find((c) => c.type === 'Ready');
        if (k.spec?.suspend || ready?.status !== 'False' || TRANSIENT_REASONS.has(ready.reason ?? '')) return [];
        return [`${namespace}/${k.metadata?.name}: ${ready.reason}: ${ready.message ?? ''}`];
      });
    },

    /** Asks Flux to reconcile now instead of at its next interval (what `flux reconcile` does). */
    async requestReconcile({ namespace, name }: KustomizationRef): Promise<{ requestedAt: string }> {
      const requestedAt = new Date().toISOString();
      await custom.patchNamespacedCustomObject(
        { group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body: { metadata: { annotations: { [RECONCILE_REQUESTED_AT]: requestedAt } } } },
        mergePatch,
      );
      return { requestedAt };
    },

    /** Waits (by watch) until Flux has applied a revision containing `commit` and reports Ready. */
    async waitForAppliedRevision({ namespace, name, commit, timeoutSeconds }: KustomizationRef & { commit: string; timeoutSeconds: number }) {
      let revision = '';
      const { waitedMs } = await watchKustomization({ namespace, name }, {
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
      });
      return { revision, waitedMs };
    },
  };
}
