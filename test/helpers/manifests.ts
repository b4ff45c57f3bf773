import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import type { TestCluster } from './kube.js';
import { testEnv } from './env.js';

const home = mkdtempSync(join(tmpdir(), 'kubectl-'));
/** Where the OIDC clients' ExternalSecrets and consumers live (schedules/oidc-clients.yaml). */
export const OIDC_NAMESPACES = ['argo', 'vmks', 'temporal-system', 'kafka', 'kgateway-system', 'rabbitmq'];

export async function kubectl(args: string[], input?: string): Promise<string> {
  const child = promisify(execFile)(join(testEnv('kubeBin'), 'kubectl'), ['--kubeconfig', testEnv('kubeconfig'), ...args], {
    env: { PATH: process.env.PATH, HOME: home },
    maxBuffer: 16 << 20,
  });
  if (input !== undefined) child.child.stdin!.end(input);
  return (await child).stdout;
}

export interface ManifestObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [field: string]: unknown;
}

/**
 * `kubectl kustomize manifests`, after what the rendered objects need on the shared control plane: the CRDs
 * (the run's Flux and ESO ones, plus VMPodScrape) established and the namespaces they go into.
 */
export async function renderManifests(): Promise<ManifestObject[]> {
  const crds = [...readdirSync(testEnv('crds')).map((file) => join(testEnv('crds'), file)), 'test/fixtures/crds/vmpodscrape.yaml'];
  await kubectl(['apply', '--server-side', '--force-conflicts', ...crds.flatMap((file) => ['-f', file])]);
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...crds.flatMap((file) => ['-f', file])]);
  for (const namespace of new Set(['temporal-system', 'flux-system', 'nccl', ...OIDC_NAMESPACES])) {
    await kubectl(['create', 'namespace', namespace]).catch((error: { stderr: string }) => {
      if (!/AlreadyExists/.test(error.stderr)) throw error;
    });
  }
  const rendered = await kubectl(['kustomize', 'manifests']);
  return parseAllDocuments(rendered).map((doc) => doc.toJS() as ManifestObject);
}

export const RBAC_KINDS = ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];

/** A client that authenticates as `namespace/serviceAccount` with a short-lived token, as the worker's pod does. */
export async function serviceAccountConfig(cluster: TestCluster, namespace: string, serviceAccount: string): Promise<KubeConfig> {
  const { status } = await cluster.kube.core.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const admin = cluster.kube.config;
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: admin.clusters,
    users: [{ name: serviceAccount, token: status!.token }],
    contexts: [{ name: serviceAccount, cluster: admin.getCurrentCluster()!.name, user: serviceAccount }],
    currentContext: serviceAccount,
  });
  return config;
}
