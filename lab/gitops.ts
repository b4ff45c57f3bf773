import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { simpleGit } from 'simple-git';
import { applyObjects, parseObjects } from './kube/apply.js';
import { repoRoot } from './repo-root.js';

/** The lab's GitOps repository seed: the seeds' k8s-config layout (clusters/willingham-k8s + one dir per layer). */
export const GITOPS_SEED = () => join(repoRoot(), 'lab', 'gitops');
export const GITOPS_BRANCH = 'master';
export const SRIOV_CONFIG_PATH = 'base/sriov-device-plugin/sriov-device-plugin.yaml';
export const INVENTORY_PATH = 'inventory/nodes.yaml';
export const TEST_GROUP_LABEL = 'cluster-ops.test/group';
/** The GitRepository's URL as on the real cluster; the simulated Flux maps it to the lab's bare repo. */
export const GITOPS_URL = 'ssh://git@github.com/willingham-cloud/k8s-config.git';

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

function place(text: string, { namespace }: GitOpsPlacement): string {
  if (!namespace) return text;
  return text
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

/** What `flux bootstrap` would create: the flux-system GitRepository and the cluster's Kustomizations. */
export function fluxBootstrapObjects(placement: GitOpsPlacement = {}): KubernetesObject[] {
  const clusterDir = join(GITOPS_SEED(), 'clusters', 'willingham-k8s');
  const gitRepository = {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name: 'flux-system', namespace: fluxNamespace(placement) },
    spec: { interval: '1m', url: GITOPS_URL, ref: { branch: GITOPS_BRANCH } },
  };
  const kustomizations = readdirSync(clusterDir).flatMap((file) =>
    parseObjects(place(readFileSync(join(clusterDir, file), 'utf8'), placement)),
  );
  return [gitRepository, ...kustomizations];
}

export async function bootstrapFlux(config: KubeConfig, placement: GitOpsPlacement = {}): Promise<void> {
  const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: fluxNamespace(placement) } };
  await applyObjects(config, [namespace, ...fluxBootstrapObjects(placement)], 'cluster-ops-lab');
}
