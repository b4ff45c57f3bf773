import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import { simpleGit } from 'simple-git';
import { kubeClients } from '../../src/activities/kube/clients.js';
import { RECONCILE_REQUESTED_AT } from '../../src/activities/flux/kustomizations.js';
import { applyObjects, parseObjects } from '../kube/apply.js';

/**
 * SIMULATOR of Flux's source- and kustomize-controller, enough for the lab and the tests: GitRepository
 * objects are fetched from a local bare repository standing in for their spec.url (see `sources`); each Kustomization whose dependsOn are
 * Ready applies the plain YAML files under its spec.path (server-side apply; no kustomize build, no
 * variable substitution, no pruning, no health checks of the applied objects) and reports
 * lastAppliedRevision, lastHandledReconcileAt and Ready like kustomize-controller. It reconciles on a
 * new revision, on the reconcile.fluxcd.io/requestedAt annotation, and after a failed attempt.
 */
export interface SimulatedFluxOptions {
  workdir: string;
  /** The namespace holding the GitRepository and Kustomizations (flux-system on a real cluster). */
  namespace: string;
  /** GitRepository spec.url → the local repository that stands in for it. */
  sources: Record<string, string>;
  /** How often sources and Kustomizations are checked (Flux uses intervals of minutes). */
  pollMs?: number;
  /** Simulated time Flux spends applying one Kustomization. */
  applyMs?: (name: string) => number;
  /** Reconcile only on request (the requestedAt annotation), as if Flux's own intervals were far away. */
  requestedOnly?: boolean;
  /** Names of Kustomizations whose apply fails (mutable: delete a name to let its retry succeed). */
  failing?: Set<string>;
}

interface GitRepository {
  metadata: { name: string; namespace: string };
  spec: { url: string; ref?: { branch?: string } };
}

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime: string;
}

interface Kustomization {
  metadata: { name: string; namespace: string; generation?: number; annotations?: Record<string, string> };
  spec: { path: string; suspend?: boolean; dependsOn?: { name: string; namespace?: string }[]; sourceRef: { kind: string; name: string; namespace?: string } };
  status?: { lastAppliedRevision?: string; lastHandledReconcileAt?: string; conditions?: Condition[] };
}

const SOURCE_INTERVAL_MS = 1_000;
const SOURCE = { group: 'source.toolkit.fluxcd.io', version: 'v1', plural: 'gitrepositories' };
const KUSTOMIZE = { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations' };

export function startSimulatedFlux(config: KubeConfig, options: SimulatedFluxOptions) {
  const { custom } = kubeClients(config);
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const pollMs = options.pollMs ?? 500;
  let stopped = false;
  const inFlight = new Map<string, Promise<void>>();

  const fetched = new Map<string, { at: number; result: { revision: string; sha: string; dir: string } }>();
  /** Like source-controller, fetch on an interval (1 s here), not on every look at a Kustomization. */
  async function fetchSource(source: GitRepository): Promise<{ revision: string; sha: string; dir: string }> {
    const dir = join(options.workdir, `${source.metadata.namespace}-${source.metadata.name}`);
    const recent = fetched.get(dir);
    if (recent && Date.now() - recent.at < SOURCE_INTERVAL_MS) return recent.result;
    if (!existsSync(join(dir, 'HEAD'))) {
      const local = options.sources[source.spec.url];
      if (!local) throw new Error(`simulated Flux has no local repository for ${source.spec.url}`);
      mkdirSync(options.workdir, { recursive: true });
      await simpleGit().clone(local, dir, ['--bare']);
    }
    const branch = source.spec.ref?.branch ?? 'master';
    await simpleGit(dir).raw(['fetch', 'origin', `+refs/heads/${branch}:refs/heads/${branch}`]);
    const sha = (await simpleGit(dir).revparse([branch])).trim();
    const result = { revision: `${branch}@sha1:${sha}`, sha, dir };
    fetched.set(dir, { at: Date.now(), result });
    return result;
  }

  const ready = (k: Kustomization | undefined) => k?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';

  async function setStatus(k: Kustomization, status: Partial<NonNullable<Kustomization['status']>>, condition: Omit<Condition, 'type' | 'lastTransitionTime'>) {
    const body = {
      status: {
        ...status,
        observedGeneration: k.metadata.generation,
        conditions: [{ type: 'Ready', lastTransitionTime: new Date().toISOString(), ...condition }],
      },
    };
    await custom.patchNamespacedCustomObjectStatus({ ...KUSTOMIZE, namespace: k.metadata.namespace, name: k.metadata.name, body }, mergePatch);
  }

  async function reconcile(k: Kustomization, source: { revision: string; sha: string; dir: string }, requestedAt: string | undefined) {
    try {
      const git = simpleGit(source.dir);
      const path = k.spec.path.replace(/^\.\//, '').replace(/\/$/, '');
      const files = (await git.raw(['ls-tree', '-r', '--name-only', source.sha, '--', path]))
        .split('\n')
        .filter((file) => /\.ya?ml$/.test(file) && !/(^|\/)kustomization\.ya?ml$/.test(file));
      const objects = [];
      for (const file of files) objects.push(...parseObjects(await git.show([`${source.sha}:${file}`])));
      await delay(options.applyMs?.(k.metadata.name) ?? 0);
      if (options.failing?.has(k.metadata.name)) throw new Error('simulated failure: kustomize build failed');
      await applyObjects(config, objects, 'kustomize-controller');
      await setStatus(
        k,
        { lastAppliedRevision: source.revision, lastHandledReconcileAt: requestedAt },
        { status: 'True', reason: 'ReconciliationSucceeded', message: `Applied revision: ${source.revision}` },
      );
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await setStatus(k, { lastHandledReconcileAt: requestedAt }, { status: 'False', reason: 'ReconciliationFailed', message });
    }
  }

  async function pass() {
    const sources = new Map<string, { revision: string; sha: string; dir: string }>();
    const repos = (await custom.listNamespacedCustomObject({ ...SOURCE, namespace: options.namespace })) as { items: GitRepository[] };
    for (const repo of repos.items) {
      sources.set(`${repo.metadata.namespace}/${repo.metadata.name}`, await fetchSource(repo));
    }
    const list = (await custom.listNamespacedCustomObject({ ...KUSTOMIZE, namespace: options.namespace })) as { items: Kustomization[] };
    const byName = new Map(list.items.map((k) => [`${k.metadata.namespace}/${k.metadata.name}`, k]));
    for (const k of list.items) {
      const key = `${k.metadata.namespace}/${k.metadata.name}`;
      if (k.spec.suspend || inFlight.has(key)) continue;
      const source = sources.get(`${k.spec.sourceRef.namespace ?? k.metadata.namespace}/${k.spec.sourceRef.name}`);
      if (!source) continue;
      const requestedAt = k.metadata.annotations?.[RECONCILE_REQUESTED_AT];
      const requested = requestedAt !== undefined && requestedAt !== k.status?.lastHandledReconcileAt;
      const due = options.requestedOnly ? requested : requested || k.status?.lastAppliedRevision !== source.revision || !ready(k);
      if (!due) continue;
      const blocked = (k.spec.dependsOn ?? []).filter((d) => !ready(byName.get(`${d.namespace ?? k.metadata.namespace}/${d.name}`)));
      if (blocked.length) {
        const message = `dependency '${blocked.map((d) => d.name).join("', '")}' is not ready`;
        if (k.status?.conditions?.[0]?.message !== message) {
          await setStatus(k, {}, { status: 'False', reason: 'DependencyNotReady', message });
        }
        continue;
      }
      const work = reconcile(k, source, requestedAt).finally(() => inFlight.delete(key));
      inFlight.set(key, work);
    }
  }

  let lastError = '';
  const report = (error: unknown) => {
    const message = `simulated Flux: ${error instanceof Error ? error.message : String(error)}`;
    if (message !== lastError) console.error(message);
    lastError = message;
  };
  const loop = (async () => {
    while (!stopped) {
      await pass().then(() => (lastError = ''), report);
      await delay(pollMs);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      await Promise.all(inFlight.values());
    },
  };
}
