import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { buildGraph, FluxGraphError, toKustomization } from '../../domain/flux-graph.js';
import type { FluxGraph } from '../../domain/flux-graph.js';
import { parseGoDuration } from '../../domain/go-duration.js';
import { failForGoodOn, FailureType } from '../../failures.js';
import type { KubeClients } from '../kube/clients.js';
import { watchUntil } from '../kube/watch.js';
import type { WatchUntilOptions } from '../kube/watch.js';

const KUSTOMIZE = { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations' };
const SOURCE = { group: 'source.toolkit.fluxcd.io', version: 'v1', plural: 'gitrepositories' };
export const RECONCILE_REQUESTED_AT = 'reconcile.fluxcd.io/requestedAt';

export interface KustomizationRef {
  namespace: string;
  name: string;
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/** The fields of a Kustomization or GitRepository that say whether Flux has answered a request. */
interface FluxObject {
  metadata?: { name?: string; namespace?: string; uid?: string; generation?: number; labels?: Record<string, string> };
  spec?: {
    path?: string;
    suspend?: boolean;
    dependsOn?: { name: string; namespace?: string }[];
    sourceRef?: { kind: string; name: string; namespace?: string };
    ref?: { branch?: string };
  };
  status?: {
    observedGeneration?: number;
    lastAppliedRevision?: string;
    lastAttemptedRevision?: string;
    lastHandledReconcileAt?: string;
    conditions?: Condition[];
    artifact?: { revision?: string };
    inventory?: { entries?: { id: string }[] };
    history?: { lastReconciled?: string; lastReconciledDuration?: string }[];
  };
}

/**
 * Ready=False reasons that mean "not yet", not "failed": kustomize-controller holds a Kustomization back
 * while a dependency is not Ready (DependencyNotReady) or its source has no artifact yet (ArtifactFailed,
 * "Source artifact not found"), and tries again every --requeue-dependency. Told apart by reason, never
 * by message.
 */
const TRANSIENT_REASONS = new Set(['DependencyNotReady', 'ArtifactFailed', 'Progressing', 'ProgressingWithRetry']);

const readyOf = (object?: FluxObject) => object?.status?.conditions?.find((c) => c.type === 'Ready');
/** Flux has handled the request stamped `requestedAt` (it echoes the annotation when it finishes a reconcile). */
const answered = (object: FluxObject | undefined, requestedAt: string) => object?.status?.lastHandledReconcileAt === requestedAt;
/** Ready for the current spec: Flux moves observedGeneration only when a reconcile succeeds. */
const readyNow = (object?: FluxObject) => readyOf(object)?.status === 'True' && object?.status?.observedGeneration === object?.metadata?.generation;
/** A Ready=False that is Flux's final word on this attempt (a failed apply, a health check that timed out). */
const failure = (object?: FluxObject) => {
  const ready = readyOf(object);
  return ready?.status === 'False' && !TRANSIENT_REASONS.has(ready.reason ?? '') ? `${ready.reason}: ${ready.message ?? ''}` : undefined;
};
const describe = (object?: FluxObject) => {
  const ready = readyOf(object);
  return ready ? `Ready=${ready.status} ${ready.reason ?? ''}: ${ready.message ?? ''}` : 'not reconciled yet';
};

/** The Flux Kustomizations a Kustomization applied (its status.inventory ids read `<ns>_<name>_<group>_<kind>`). */
export function childKustomizations(object: FluxObject): string[] {
  return (object.status?.inventory?.entries ?? []).flatMap(({ id }) => {
    const [namespace, name, group, kind] = id.split('_');
    return group === KUSTOMIZE.group && kind === 'Kustomization' ? [`${namespace}/${name}`] : [];
  });
}

/** How long kustomize-controller took for its latest reconcile, by its own clock (status.history). */
export function fluxReconcileMs(object: FluxObject): number | undefined {
  const latest = [...(object.status?.history ?? [])].sort((a, b) => (b.lastReconciled ?? '').localeCompare(a.lastReconciled ?? ''))[0];
  return parseGoDuration(latest?.lastReconciledDuration);
}

export function createFluxActivities({ custom, watch }: KubeClients) {
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  type Kind = typeof KUSTOMIZE | typeof SOURCE;
  const list = async (kind: Kind, namespace: string, fieldSelector?: string) =>
    (await custom.listNamespacedCustomObject({ ...kind, namespace, fieldSelector })) as { items: FluxObject[]; metadata?: { resourceVersion?: string } };
  const read = async (kind: Kind, { namespace, name }: KustomizationRef) => (await list(kind, namespace, `metadata.name=${name}`)).items[0];
  /** Sets the annotation `flux reconcile` sets; returns its value, which Flux echoes once it has handled it. */
  const request = async (kind: Kind, { namespace, name }: KustomizationRef, spec?: object) => {
    const requestedAt = new Date().toISOString();
    const body = { metadata: { annotations: { [RECONCILE_REQUESTED_AT]: requestedAt } }, ...(spec ? { spec } : {}) };
    await custom.patchNamespacedCustomObject({ ...kind, namespace, name, body }, mergePatch);
    return requestedAt;
  };
  const watchOne = (kind: Kind, ref: KustomizationRef, until: Pick<WatchUntilOptions<FluxObject>, 'unmet' | 'failed' | 'timeoutSeconds'>) =>
    watchUntil<FluxObject>({
      watch,
      path: `/apis/${kind.group}/${kind.version}/namespaces/${ref.namespace}/${kind.plural}`,
      query: { fieldSelector: `metadata.name=${ref.name}` },
      list: () => list(kind, ref.namespace, `metadata.name=${ref.name}`),
      what: `${kind === KUSTOMIZE ? 'Kustomization' : 'GitRepository'} ${ref.namespace}/${ref.name}`,
      ...until,
    });
  const sourceOf = (k: FluxObject, namespace: string): KustomizationRef | undefined => {
    const ref = k.spec?.sourceRef;
    return ref?.kind === 'GitRepository' ? { namespace: ref.namespace ?? namespace, name: ref.name } : undefined;
  };
  const mustExist = async (ref: KustomizationRef) => {
    const k = await read(KUSTOMIZE, ref);
    if (!k) throw ApplicationFailure.nonRetryable(`Kustomization ${ref.namespace}/${ref.name} does not exist`, FailureType.KustomizationNotFound);
    return k;
  };
  const refuseSuspended = (k: FluxObject, ref: KustomizationRef) => {
    if (k.spec?.suspend) {
      throw ApplicationFailure.nonRetryable(
        `Kustomization ${ref.namespace}/${ref.name} is suspended: Flux ignores reconcile requests (flux resume ks)`,
        FailureType.KustomizationSuspended,
      );
    }
  };
  /** What `flux reconcile source git` does: a fresh fetch, waited for until source-controller answers it. */
  const refreshSource = async (source: KustomizationRef, timeoutSeconds: number) => {
    const requestedAt = await request(SOURCE, source);
    await watchOne(SOURCE, source, {
      failed: ([repo]) => (answered(repo, requestedAt) ? failure(repo) : undefined),
      unmet: ([repo]) => (answered(repo, requestedAt) && readyNow(repo) ? [] : [`GitRepository ${describe(repo)}`]),
      timeoutSeconds,
    });
  };

  /** Requests a reconcile and watches until Flux has answered it: Ready for the current spec, or failed. */
  const reconcileAndWait = async (ref: KustomizationRef, timeoutSeconds: number, resume = false) => {
    const requestedAt = await request(KUSTOMIZE, ref, resume ? { suspend: false } : undefined);
    const { waitedMs } = await watchOne(KUSTOMIZE, ref, {
      failed: ([k]) => {
        const failed = answered(k, requestedAt) ? failure(k) : undefined;
        return failed && `${ref.namespace}/${ref.name}: ${failed}`;
      },
      unmet: ([k]) => (answered(k, requestedAt) && readyNow(k) ? [] : [describe(k)]),
      timeoutSeconds,
    });
    return { waitedMs, done: (await read(KUSTOMIZE, ref))! };
  };
  /**
   * The Kustomizations `ref` waits for, transitively, that follow the same source, dependencies first.
   * kustomize-controller counts such a dependency Ready only once it has applied the source's current
   * revision, so a new commit walks down a dependsOn chain one --requeue-dependency (30 s) per level.
   */
  const sameSourceDependencies = async (ref: KustomizationRef, object: FluxObject, source: KustomizationRef) => {
    const ordered: { ref: KustomizationRef; object: FluxObject }[] = [];
    const seen = new Set<string>();
    const visit = async (current: FluxObject, namespace: string) => {
      for (const dep of current.spec?.dependsOn ?? []) {
        const depRef = { namespace: dep.namespace ?? namespace, name: dep.name };
        const key = `${depRef.namespace}/${depRef.name}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const object = await read(KUSTOMIZE, depRef);
        const depSource = object && sourceOf(object, depRef.namespace);
        if (!object || depSource?.namespace !== source.namespace || depSource.name !== source.name) continue;
        await visit(object, depRef.namespace);
        ordered.push({ ref: depRef, object });
      }
    };
    await visit(object, ref.namespace);
    return ordered;
  };

  return {
    /** The live cluster's Kustomizations as a validated graph; a bad graph fails for good, naming the problem. */
    async readFluxGraph({ namespace }: { namespace: string }): Promise<FluxGraph> {
      const { items } = await list(KUSTOMIZE, namespace);
      return failForGoodOn(FluxGraphError, FailureType.InvalidFluxGraph, () => buildGraph(items.map((item) => toKustomization(item, namespace))));
    },

    /**
     * `flux reconcile ks` (with `--with-source` when asked): requests a reconcile, optionally un-suspending
     * first, and waits by watch until Flux has answered that very request. A Ready left over from an earlier
     * revision does not count, Ready=Unknown and DependencyNotReady are waited out, and a real failure
     * (a failed apply, a health check that timed out) ends the wait with Flux's own message.
     */
    async reconcileKustomization(input: KustomizationRef & { timeoutSeconds: number; resume: boolean; withSource?: boolean }) {
      const current = await mustExist(input);
      if (!input.resume) refuseSuspended(current, input);
      const source = sourceOf(current, input.namespace);
      if (input.withSource && source) await refreshSource(source, input.timeoutSeconds);
      const { waitedMs, done } = await reconcileAndWait(input, input.timeoutSeconds, input.resume);
      return {
        name: input.name,
        waitedMs,
        fluxDurationMs: fluxReconcileMs(done),
        message: readyOf(done)?.message ?? '',
        revision: done.status?.lastAppliedRevision ?? '',
        children: childKustomizations(done),
      };
    },

    /** Kustomizations whose Ready=False is a failure, not a step on the way (the health gate between nodes). */
    async failingKustomizations({ namespace }: { namespace: string }): Promise<string[]> {
      const { items } = await list(KUSTOMIZE, namespace);
      return items.flatMap((k) => {
        const failed = k.spec?.suspend ? undefined : failure(k);
        return failed ? [`${namespace}/${k.metadata?.name}: ${failed}`] : [];
      });
    },

    /**
     * What `flux reconcile ks --with-source` starts: source-controller fetches now instead of at its
     * interval, then kustomize-controller reconciles. Returns the request stamp to wait for.
     */
    async requestReconcile(ref: KustomizationRef): Promise<{ requestedAt: string }> {
      const k = await mustExist(ref);
      refuseSuspended(k, ref);
      const source = sourceOf(k, ref.namespace);
      if (source) await request(SOURCE, source);
      return { requestedAt: await request(KUSTOMIZE, ref) };
    },

    /**
     * Waits until Flux has applied `commit` and reports Ready: lastAppliedRevision must be that commit in
     * Flux's `<branch>@sha1:<commit>` form (the branch its GitRepository follows). Once source-controller
     * has the commit, the dependencies on the same source that have not applied it yet are reconciled in
     * order, as bootstrapCluster would, instead of Flux's 30 s dependency requeue per level. A failed
     * apply or health check of that revision ends the wait with Flux's message.
     */
    async waitForAppliedRevision({ namespace, name, commit, timeoutSeconds }: KustomizationRef & { commit: string; timeoutSeconds: number }) {
      const ref = { namespace, name };
      const k = await mustExist(ref);
      refuseSuspended(k, ref);
      const source = sourceOf(k, namespace);
      const branch = source ? (await read(SOURCE, source))?.spec?.ref?.branch : undefined;
      const want = branch ? `${branch}@sha1:${commit}` : `sha1:${commit}`;
      const applied = (revision = '') => (branch ? revision === want : revision.endsWith(want));
      const started = Date.now();
      const left = () => Math.max(1, timeoutSeconds - Math.floor((Date.now() - started) / 1000));
      if (source) {
        await watchOne(SOURCE, source, {
          unmet: ([repo]) =>
            applied(repo?.status?.artifact?.revision) ? [] : [`GitRepository has ${repo?.status?.artifact?.revision ?? 'no artifact'}, want ${want}`],
          timeoutSeconds: left(),
        });
        for (const dependency of await sameSourceDependencies(ref, k, source)) {
          if (!applied(dependency.object.status?.lastAppliedRevision)) await reconcileAndWait(dependency.ref, left());
        }
        // It last tried while its dependencies were behind: ask again rather than wait for its requeue.
        if (!applied((await read(KUSTOMIZE, ref))?.status?.lastAppliedRevision)) await reconcileAndWait(ref, left());
      }
      let revision = '';
      await watchOne(KUSTOMIZE, ref, {
        failed: ([current]) => {
          const failed = applied(current?.status?.lastAttemptedRevision) ? failure(current) : undefined;
          return failed && `${namespace}/${name} at ${want}: ${failed}`;
        },
        unmet: ([current]) => {
          if (!current) return [`Kustomization ${namespace}/${name} does not exist`];
          revision = current.status?.lastAppliedRevision ?? '';
          const unmet = [];
          if (!applied(revision)) unmet.push(`last applied revision is ${revision || 'none'}, want ${want}`);
          if (!readyNow(current)) unmet.push(describe(current));
          return unmet;
        },
        timeoutSeconds: left(),
      });
      return { revision, waitedMs: Date.now() - started };
    },
  };
}
