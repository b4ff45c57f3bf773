import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { simpleGit } from 'simple-git';
import { stringify } from 'yaml';
import { GITOPS_BRANCH, GITOPS_SEED, gitRepositoryObject } from './gitops.js';
import { parseObjects } from './kube/apply.js';

/**
 * Synthetic GitOps repositories for the real Flux controllers: a dependsOn graph of Kustomizations, each
 * applying one small object. The benchmark and the bootstrapCluster tests use them to measure and drive
 * Flux itself, without the seed's layers.
 */
export interface FluxRepoSpec {
  graph: { name: string; dependsOn: string[] }[];
  /**
   * What each Kustomization applies: a ConfigMap (healthy the moment it exists, `wait: false`) or a
   * Deployment that KWOK makes Ready, under `wait: true` (kustomize-controller polls its health).
   */
  content: 'configmap' | 'deployment';
  /** The Deployments' node selector, to keep a test's pods on its own nodes. */
  nodeSelector?: Record<string, string>;
  /** Per Kustomization: how long kustomize-controller waits for health (spec.timeout; it waits 30 s at least). */
  timeout?: string;
}

/** The seed's graph (clusters/willingham-k8s): 12 Kustomizations in 6 levels. */
export function seedGraph(): FluxRepoSpec['graph'] {
  const dir = join(GITOPS_SEED(), 'clusters', 'willingham-k8s');
  return readdirSync(dir)
    .flatMap((file) => parseObjects(readFileSync(join(dir, file), 'utf8')))
    .map((object) => {
      const spec = (object as { spec: { dependsOn?: { name: string }[] } }).spec;
      return { name: object.metadata!.name!, dependsOn: (spec.dependsOn ?? []).map((d) => d.name) };
    });
}

/** Relative level sizes of syntheticGraph: a few roots, infrastructure, then wide application levels that narrow again. */
const SYNTHETIC_LEVEL_WEIGHTS = [3, 12, 25, 45, 70, 90, 90, 80, 55, 30];
/** The roots: everything else hangs off them, and these three are the hubs many Kustomizations name. */
const SYNTHETIC_HUBS = ['crds', 'namespaces', 'cluster-config'];

/** mulberry32: a small deterministic PRNG, so a seed gives the same graph on every machine. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * A synthetic graph of `count` Kustomizations in 10 levels (fewer when count is small), shaped like a
 * large GitOps repository: three roots (crds, namespaces, cluster-config) as hubs, an infrastructure
 * level, then application levels that widen and narrow again. Each Kustomization past level 0 depends on
 * one Kustomization of the level right above it (which fixes its level) and on up to two more of any
 * earlier level, a hub with probability 0.4: 1-3 dependencies each, fan-out from the hubs and the infra
 * level, fan-in everywhere. Deterministic for a given count and seed.
 */
export function syntheticGraph(count = 500, seed = 17): FluxRepoSpec['graph'] {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  const weights = SYNTHETIC_LEVEL_WEIGHTS.slice(0, Math.max(1, Math.min(SYNTHETIC_LEVEL_WEIGHTS.length, Math.floor(count / 3))));
  // Level 0 holds the hubs; every other level gets one, then the rest in proportion to the weights, and what
  // rounding leaves over goes to the widest levels.
  const sizes = weights.map((_, level) => (level === 0 ? Math.min(SYNTHETIC_HUBS.length, count) : 1));
  const spare = count - sizes.reduce((a, b) => a + b, 0);
  const total = weights.slice(1).reduce((a, b) => a + b, 0);
  for (let level = 1; level < sizes.length; level++) sizes[level]! += Math.floor((spare * weights[level]!) / total);
  const widest = [...sizes.keys()].slice(1).sort((a, b) => weights[b]! - weights[a]! || a - b);
  for (let i = 0, left = count - sizes.reduce((a, b) => a + b, 0); left > 0; i++, left--) sizes[widest[i % widest.length]!]! += 1;
  const levels: string[][] = sizes.map((size, level) =>
    Array.from({ length: size }, (_, i) => {
      if (level === 0) return SYNTHETIC_HUBS[i]!;
      const index = String(i).padStart(3, '0');
      return level === 1 ? `infra-${index}` : `app-${level}-${index}`;
    }),
  );
  const graph: FluxRepoSpec['graph'] = levels[0]!.map((name) => ({ name, dependsOn: [] }));
  levels.forEach((names, level) => {
    if (level === 0) return;
    const earlier = levels.slice(0, level).flat();
    for (const name of names) {
      const dependsOn = new Set([pick(levels[level - 1]!)]);
      const extra = Math.floor(random() * 3);
      for (let i = 0; i < extra; i++) dependsOn.add(random() < 0.4 ? pick(levels[0]!) : pick(earlier));
      graph.push({ name, dependsOn: [...dependsOn] });
    }
  });
  return graph;
}

export const layerPath = (name: string) => `apps/${name}/manifest.yaml`;

/** The one object a Kustomization applies, as YAML. */
export function layerManifest(name: string, namespace: string, spec: FluxRepoSpec): string {
  if (spec.content === 'configmap') {
    return stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `layer-${name}`, namespace }, data: { layer: name } });
  }
  const labels = { app: `layer-${name}` };
  return stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `layer-${name}`, namespace },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          nodeSelector: spec.nodeSelector,
          containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }],
        },
      },
    },
  });
}

/** The cluster entry folder `flux bootstrap` would point the root Kustomization at. */
export const FLUX_REPO_CLUSTER = 'lab';

/**
 * A bare repository (under the git server's root) holding one folder per Kustomization, and the
 * Kustomizations themselves under clusters/lab/ (as a repository `flux bootstrap` manages keeps them).
 * `layers` replaces some Kustomizations' manifests in that first commit (a broken one, say).
 */
export async function createFluxRepo(bareRepo: string, namespace: string, spec: FluxRepoSpec, layers: Record<string, string> = {}): Promise<string> {
  await simpleGit().init(true, [bareRepo, `--initial-branch=${GITOPS_BRANCH}`]);
  const files = Object.fromEntries(spec.graph.map(({ name }) => [layerPath(name), layers[name] ?? layerManifest(name, namespace, spec)]));
  files[`clusters/${FLUX_REPO_CLUSTER}/kustomizations.yaml`] = kustomizationObjects(namespace, spec)
    .map((k) => stringify(k))
    .join('---\n');
  return commitFiles(bareRepo, files, 'Synthetic Flux graph');
}

/** Commits files onto the branch Flux follows (a push from a clone, as a person would); returns the commit. */
export async function commitFiles(bareRepo: string, files: Record<string, string>, message: string): Promise<string> {
  const work = mkdtempSync(join(tmpdir(), 'flux-repo-'));
  try {
    const git = simpleGit(work);
    await git.init(['--initial-branch', GITOPS_BRANCH]);
    await git.addConfig('user.name', 'lab').addConfig('user.email', 'lab@cluster-ops.invalid');
    const branches = await simpleGit(bareRepo).raw(['branch', '--list', GITOPS_BRANCH]);
    if (branches.trim()) {
      await git.fetch(bareRepo, GITOPS_BRANCH);
      await git.checkout(['-B', GITOPS_BRANCH, 'FETCH_HEAD']);
    }
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(work, path)), { recursive: true });
      writeFileSync(join(work, path), text);
    }
    await git.add('.').commit(message);
    await git.push(bareRepo, `HEAD:refs/heads/${GITOPS_BRANCH}`);
    return (await git.revparse(['HEAD'])).trim();
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The GitRepository and Kustomizations that make Flux reconcile the repository at `url`. */
export function fluxRepoObjects(namespace: string, url: string, spec: FluxRepoSpec): KubernetesObject[] {
  return [gitRepositoryObject(namespace, url), ...kustomizationObjects(namespace, spec)];
}

/**
 * The GitRepository and one root Kustomization over clusters/lab/, as `flux bootstrap` leaves a cluster:
 * the root applies the others, which appear only once it has reconciled.
 */
export function fluxRepoRootObjects(namespace: string, url: string): KubernetesObject[] {
  const root = {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name: 'flux-system', namespace },
    spec: { interval: '10m', path: `./clusters/${FLUX_REPO_CLUSTER}`, prune: true, sourceRef: { kind: 'GitRepository', name: 'flux-system' } },
  };
  return [gitRepositoryObject(namespace, url), root];
}

function kustomizationObjects(namespace: string, spec: FluxRepoSpec): KubernetesObject[] {
  return spec.graph.map(({ name, dependsOn }) => ({
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name, namespace },
    spec: {
      interval: '10m',
      retryInterval: '1m',
      timeout: spec.timeout ?? '2m',
      path: `./apps/${name}`,
      prune: true,
      wait: spec.content === 'deployment',
      sourceRef: { kind: 'GitRepository', name: 'flux-system' },
      dependsOn: dependsOn.map((dep) => ({ name: dep })),
    },
  }));
}
