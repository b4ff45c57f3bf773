import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeInformer } from '@kubernetes/client-node';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { Octokit } from 'octokit';
import type { GitOpsDeps } from '../../src/activities/gitops/activities.js';
import { GitOpsRepo } from '../../src/activities/gitops/repo.js';
import { GITOPS_BRANCH, SRIOV_CONFIG_PATH, startLabGitOps, TEST_GROUP_LABEL } from '../../lab/gitops.js';
import type { GitServing, LabGitOps } from '../../lab/gitops.js';
import { SRIOV_RESOURCE } from '../../lab/sim/sriov-device-plugin.js';
import type { SriovRolloutInput } from '../../src/schemas/sriov-rollout.js';
import { testEnv } from './env.js';
import { eventually, uniqueName } from './kube.js';
import type { TestCluster } from './kube.js';

/** The run's git http server, which the run's real source-controller clones from (global setup). */
export const testGitServing = (): GitServing => ({ root: testEnv('gitRoot'), url: testEnv('gitUrl') });

/**
 * A test file's own GitOps world on the shared control plane: a seeded bare repo served over http, its
 * GitRepository and Kustomizations in the test namespace for the run's real Flux controllers, the SR-IOV
 * DaemonSet Flux applies there, the simulated device plugin, a fake GitHub, and two DGX-like nodes that
 * only this file's workloads select.
 */
export interface TestGitOps {
  lab: LabGitOps;
  deps: GitOpsDeps;
  dgxNodes: string[];
  /** Input for a rollout confined to this test's nodes, namespace and Kustomization. */
  rolloutInput(overrides?: Partial<SriovRolloutInput>): SriovRolloutInput & { cluster: string };
  /** The built worker's environment for this repository and fake GitHub (spawnBuiltWorker). */
  workerEnv(checkoutDir: string): Record<string, string>;
  stop(): Promise<void>;
}

export async function startTestGitOps(cluster: TestCluster, options: { autoMerge?: boolean } = {}): Promise<TestGitOps> {
  const namespace = cluster.namespace;
  const dir = mkdtempSync(join(tmpdir(), 'gitops-'));
  const dgxNodes = [
    await cluster.addNode(undefined, { [TEST_GROUP_LABEL]: namespace }),
    await cluster.addNode(undefined, { [TEST_GROUP_LABEL]: namespace }),
  ].sort();
  const lab = await startLabGitOps(cluster.kube.config, testGitServing(), { name: namespace, placement: { namespace }, autoMerge: options.autoMerge ?? true });
  // Flux applies namespaces → crds → base; base brings the SR-IOV DaemonSet, whose pods make the simulated
  // device plugin advertise 4 VFs per node.
  await eventually(
    async () => {
      const nodes = await Promise.all(dgxNodes.map((name) => cluster.kube.core.readNode({ name })));
      return nodes.every((node) => node.status?.allocatable?.[SRIOV_RESOURCE] === '4') && (await sriovPodsReady(cluster, dgxNodes.length));
    },
    'the SR-IOV DaemonSet up on both DGX test nodes',
    90_000,
  ).catch(async (error: unknown) => {
    await lab.stop();
    throw error;
  });
  const deps: GitOpsDeps = {
    repo: new GitOpsRepo({
      url: lab.bareRepo,
      baseBranch: GITOPS_BRANCH,
      checkoutDir: join(dir, 'worker-checkout'),
      author: { name: 'cluster-ops', email: 'cluster-ops@wcloud.invalid' },
    }),
    github: { octokit: new Octokit({ auth: lab.github.token, baseUrl: lab.github.url }), owner: lab.github.owner, repo: lab.github.repo },
  };
  return {
    lab,
    deps,
    dgxNodes,
    rolloutInput: (overrides = {}) => ({
      cluster: uniqueName('test'),
      numVfs: 8,
      nodeSelector: `${TEST_GROUP_LABEL}=${namespace}`,
      gitops: { path: SRIOV_CONFIG_PATH, kustomization: { namespace, name: 'base' }, ...overrides.gitops },
      node: { daemonSet: { namespace, name: 'sriov-device-plugin' }, verifyTimeoutSeconds: 20, ...overrides.node },
      ...Object.fromEntries(Object.entries(overrides).filter(([key]) => key !== 'gitops' && key !== 'node')),
    }),
    workerEnv: (checkoutDir) => ({
      GITOPS_REPO_URL: lab.bareRepo,
      GITOPS_BRANCH,
      GITOPS_CHECKOUT_DIR: checkoutDir,
      GITHUB_REPOSITORY: `${lab.github.owner}/${lab.github.repo}`,
      GITHUB_TOKEN: lab.github.token,
      GITHUB_API_URL: lab.github.url,
    }),
    stop: () => lab.stop(),
  };
}

/**
 * Follows the DGX test nodes and the SR-IOV device plugin pods through watches, recording what a rollout
 * must never do: cordon both nodes at once, or restart a node's plugin more than once.
 */
export function watchDgxInvariants(cluster: TestCluster, dgxNodes: string[]) {
  const cordoned = new Map<string, boolean>();
  let bothCordoned = false;
  const deletedPodsPerNode = new Map<string, number>();
  const nodes = makeInformer<V1Node>(cluster.kube.config, '/api/v1/nodes', () => cluster.kube.core.listNode());
  const onNode = (node: V1Node) => {
    if (!dgxNodes.includes(node.metadata!.name!)) return;
    cordoned.set(node.metadata!.name!, node.spec?.unschedulable === true);
    if (dgxNodes.every((name) => cordoned.get(name))) bothCordoned = true;
  };
  nodes.on('add', onNode);
  nodes.on('update', onNode);
  const path = `/api/v1/namespaces/${cluster.namespace}/pods`;
  const pods = makeInformer<V1Pod>(
    cluster.kube.config,
    path,
    () => cluster.kube.core.listNamespacedPod({ namespace: cluster.namespace, labelSelector: 'app=sriov-device-plugin' }),
    'app=sriov-device-plugin',
  );
  pods.on('delete', (pod) => {
    const node = pod.spec!.nodeName!;
    deletedPodsPerNode.set(node, (deletedPodsPerNode.get(node) ?? 0) + 1);
  });
  return {
    started: Promise.all([nodes.start(), pods.start()]),
    stop: () => Promise.all([nodes.stop(), pods.stop()]),
    bothCordoned: () => bothCordoned,
    deletedPodsPerNode,
  };
}

/** The seed's whole Flux graph placed in the test's namespace, reconciled by the run's real Flux on a node of its own. */
export async function startTestFluxSeed(cluster: TestCluster): Promise<LabGitOps> {
  await cluster.addNode(undefined, { [TEST_GROUP_LABEL]: cluster.namespace });
  return startLabGitOps(cluster.kube.config, testGitServing(), { name: cluster.namespace, placement: { namespace: cluster.namespace } });
}

async function sriovPodsReady(cluster: TestCluster, count: number) {
  const pods = await cluster.kube.core.listNamespacedPod({ namespace: cluster.namespace, labelSelector: 'app=sriov-device-plugin' });
  return pods.items.filter((pod) => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length === count;
}

export async function allocatableVfs(cluster: TestCluster, node: string): Promise<string | undefined> {
  return (await cluster.kube.core.readNode({ name: node })).status?.allocatable?.[SRIOV_RESOURCE];
}
