import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { simpleGit } from 'simple-git';
import { startFakeGitHub } from './fakes/github.js';
import type { FakeGitHub } from './fakes/github.js';
import { applyObjects, parseObjects } from './kube/apply.js';
import { startSimulatedSriovDevicePlugin } from './sim/sriov-device-plugin.js';
import { repoRoot } from './repo-root.js';

/** The lab's GitOps repository seed: the seeds' k8s-config layout (clusters/willingham-k8s + one dir per layer). */
export const GITOPS_SEED = () => join(repoRoot(), 'lab', 'gitops');
export const GITOPS_BRANCH = 'master';
export const SRIOV_CONFIG_PATH = 'base/sriov-device-plugin/sriov-device-plugin.yaml';
export const INVENTORY_PATH = 'inventory/nodes.yaml';
export const TEST_GROUP_LABEL = 'cluster-ops.test/group';
/**
 * How long source-controller may take to fetch. Set explicitly: source-controller v1.9.0 panicked in
 * gitCheckout on a GitRepository without spec.timeout when the CRD's defaults were not applied.
 */
const GIT_TIMEOUT = '60s';

/**
 * Where the cluster config lands. The lab uses the real namespaces. A test passes its own namespace: Flux
 * objects and the SR-IOV DaemonSet then live there, and the DaemonSet selects only nodes labelled
 * `cluster-ops.test/group=<namespace>`, so test files running side by side never share them.
 */
export interface GitOpsPlacement {
  namespace?: string;
}

export const fluxNamespace = (placement: GitOpsPlacement) => placement.namespace ?? 'flux-system';
export const sriovNamespace = (placement: GitOpsPlacement) => placement.namespace ?? 'kube-system';

/** Node selectors of the seed's DaemonSets (8 spaces deep; the inventory's labels are shallower). */
const NODE_SELECTOR_LINE = /^( {8})(feature\.node\.kubernetes\.io\/network-sriov\.capable|nvidia\.com\/gpu\.present|kubernetes\.io\/os): .*$/gm;

/**
 * Namespaces are cluster-wide, so test files running side by side apply the same ones (temporal-system, argo,
 * ...): Flux must never delete them when one file cleans its Kustomizations up under the others.
 */
const KEPT_BY_FLUX = 'kind: Namespace\nmetadata:\n  annotations:\n    kustomize.toolkit.fluxcd.io/prune: disabled\n';

function place(text: string, { namespace }: GitOpsPlacement): string {
  if (!namespace) return text;
  return text
    .replaceAll('kind: Namespace\nmetadata:\n', KEPT_BY_FLUX)
    .replaceAll('namespace: flux-system', `namespace: ${namespace}`)
    .replaceAll('namespace: kube-system', `namespace: ${namespace}`)
    .replaceAll('- kube-system/', `- ${namespace}/`)
    .replace(NODE_SELECTOR_LINE, `$1${TEST_GROUP_LABEL}: ${namespace}`);
}

/** Creates a bare repository holding the seed on `master`, unless it exists (the lab keeps its history). */
export async function seedGitOpsRepo(bareRepo: string, placement: GitOpsPlacement = {}): Promise<void> {
  if (existsSync(join(bareRepo, 'HEAD'))) return;
  await simpleGit().init(true, [bareRepo, `--initial-branch=${GITOPS_BRANCH}`]);
  const work = mkdtempSync(join(tmpdir(), 'gitops-seed-'));
  try {
    cpSync(GITOPS_SEED(), work, { recursive: true });
    for (const entry of readdirSync(work, { withFileTypes: true, recursive: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.yaml')) continue;
      const file = join(entry.parentPath, entry.name);
      writeFileSync(file, place(readFileSync(file, 'utf8'), placement));
    }
    const git = simpleGit(work);
    await git.init(['--initial-branch', GITOPS_BRANCH]);
    await git.addConfig('user.name', 'lab').addConfig('user.email', 'lab@cluster-ops.invalid');
    await git.add('.').commit('Cluster config (cluster-ops lab seed)');
    await git.push(bareRepo, `HEAD:refs/heads/${GITOPS_BRANCH}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The flux-system GitRepository `flux bootstrap` makes, pointed at a repository served over loopback http. */
export function gitRepositoryObject(namespace: string, url: string): KubernetesObject {
  return {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name: 'flux-system', namespace },
    spec: { interval: '1m', timeout: GIT_TIMEOUT, url, ref: { branch: GITOPS_BRANCH } },
  } as KubernetesObject;
}

/** What `flux bootstrap` would create: the flux-system GitRepository and the cluster's Kustomizations. */
export function fluxBootstrapObjects(url: string, placement: GitOpsPlacement = {}): KubernetesObject[] {
  const clusterDir = join(GITOPS_SEED(), 'clusters', 'willingham-k8s');
  const kustomizations = readdirSync(clusterDir).flatMap((file) => parseObjects(place(readFileSync(join(clusterDir, file), 'utf8'), placement)));
  return [gitRepositoryObject(fluxNamespace(placement), url), ...kustomizations];
}

export async function bootstrapFlux(config: KubeConfig, url: string, placement: GitOpsPlacement = {}): Promise<void> {
  const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: fluxNamespace(placement) } };
  await applyObjects(config, [namespace, ...fluxBootstrapObjects(url, placement)], 'cluster-ops-lab');
}

/** Where the lab's repositories live and how source-controller reaches them (lab/git-server.ts). */
export interface GitServing {
  /** Directory the git http server serves. */
  root: string;
  /** That server's base URL. */
  url: string;
}

export interface LabGitOps {
  bareRepo: string;
  /** The URL the GitRepository clones. */
  url: string;
  github: FakeGitHub;
  stop(): Promise<void>;
}

/**
 * The GitOps side of the lab: a bare repo seeded with the cluster config and served over http, the
 * flux-system GitRepository and the cluster's Kustomizations for the real Flux controllers (started
 * separately, lab/flux.ts), the simulated SR-IOV device plugin and the fake GitHub. Needs the Flux CRDs.
 */
export async function startLabGitOps(
  config: KubeConfig,
  git: GitServing,
  options: { name?: string; autoMerge?: boolean; placement?: GitOpsPlacement } = {},
): Promise<LabGitOps> {
  const placement = options.placement ?? {};
  const repoPath = `${options.name ?? 'k8s-config'}.git`;
  const bareRepo = join(git.root, repoPath);
  const url = `${git.url}/${repoPath}`;
  await seedGitOpsRepo(bareRepo, placement);
  await bootstrapFlux(config, url, placement);
  const devicePlugin = startSimulatedSriovDevicePlugin(config, { namespace: sriovNamespace(placement) });
  await devicePlugin.ready;
  const github = await startFakeGitHub({ bareRepo, autoMerge: options.autoMerge });
  return {
    bareRepo,
    url,
    github,
    stop: async () => {
      await Promise.all([devicePlugin.stop(), github.close()]);
    },
  };
}
