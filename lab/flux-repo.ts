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
