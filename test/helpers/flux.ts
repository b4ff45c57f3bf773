import { join } from 'node:path';
import { commitFiles, createFluxRepo, fluxRepoObjects, fluxRepoRootObjects, layerManifest, layerPath } from '../../lab/flux-repo.js';
import type { FluxRepoSpec } from '../../lab/flux-repo.js';
import { applyObjects } from '../../lab/kube/apply.js';
import type { KubeClients } from '../../src/activities/kube/clients.js';
import { testGitServing } from './gitops.js';

/** The levels of the cluster's Flux chain as cluster-docs.md draws it (names only). */
export const WILLINGHAM_FLUX_LEVELS = [
  ['namespaces'],
  ['crds'],
  ['base', 'routes'],
  ['operators'],
  ['argo', 'dev-platform', 'messaging', 'network', 'observability', 'security'],
  ['vpa'],
];

/** Drops the namespace from graph ids: flux-system/base → base. */
export const names = (levels: string[][]) => levels.map((level) => level.map((id) => id.split('/').at(-1)!));

/**
 * A synthetic Flux world in a test's namespace (lab/flux-repo.ts): a bare repo served to the run's real
 * source-controller, and the GitRepository + Kustomizations that make the real kustomize-controller
 * reconcile it. Flux starts on its own the moment they exist, as on a freshly bootstrapped cluster.
 */
export async function startFluxRepoWorld(
  kube: KubeClients,
  namespace: string,
  spec: FluxRepoSpec,
  options: { layers?: Record<string, string>; root?: boolean } = {},
) {
  const git = testGitServing();
  const bareRepo = join(git.root, `${namespace}.git`);
  const url = `${git.url}/${namespace}.git`;
  const commit = await createFluxRepo(bareRepo, namespace, spec, options.layers);
  const objects = options.root ? fluxRepoRootObjects(namespace, url) : fluxRepoObjects(namespace, url, spec);
  await applyObjects(kube.config, objects, 'cluster-ops-test');
  return {
    commit,
    bareRepo,
    url,
    /** Replaces a Kustomization's manifest with `text` (e.g. a broken one), as a push to the branch. */
    commitLayer: (name: string, text: string, message: string) => commitFiles(bareRepo, { [layerPath(name)]: text }, message),
    /** Puts the Kustomization's good manifest back. */
    restoreLayer: (name: string) => commitFiles(bareRepo, { [layerPath(name)]: layerManifest(name, namespace, spec) }, `Fix ${name}`),
  };
}

/**
 * A Kustomization the run's Flux leaves alone (suspended; its GitRepository never made), for tests that
 * only need one to exist, or a dependsOn graph to read.
 */
export async function createSuspendedKustomization(kube: KubeClients, namespace: string, name: string, dependsOn: string[] = []): Promise<void> {
  const body = {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name },
    spec: {
      interval: '1h',
      prune: false,
      suspend: true,
      path: './',
      sourceRef: { kind: 'GitRepository', name: 'none' },
      dependsOn: dependsOn.map((on) => ({ name: on })),
    },
  };
  await kube.custom.createNamespacedCustomObject({ group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations', namespace, body });
}

/** A ConfigMap the API server refuses (its name is not a DNS subdomain): kustomize-controller's apply fails for real. */
export const brokenManifest = (namespace: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Not_A_Valid_Name\n  namespace: ${namespace}\ndata:\n  broken: "yes"\n`;
