import type { CoreV1Api, V1Node } from '@kubernetes/client-node';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { KWOK_NODE_ANNOTATION } from './control-plane.js';

/** Label that makes KWOK's node-chaos stage report the node NotReady (remove it to recover). */
export const NOT_READY_LABEL = 'node-not-ready.stage.kwok.x-k8s.io';

export interface SimulatedNode {
  name: string;
  arch: 'amd64' | 'arm64';
  labels: Record<string, string>;
  resources: Record<string, string>;
}

const dgxSpark = (name: string): SimulatedNode => ({
  name,
  arch: 'arm64',
  labels: {
    'nvidia.com/gpu.present': 'true',
    'nvidia.com/gpu.product': 'NVIDIA-GB10',
    'feature.node.kubernetes.io/network-sriov.capable': 'true',
  },
  resources: { cpu: '20', memory: '128Gi', pods: '110', 'nvidia.com/gpu': '1', 'nvidia.com/cx7_qsfp': '4' },
});

/** The three nodes of willingham-k8s (../shared/seeds/cluster-docs.md), all control-plane and worker. */
export const WILLINGHAM_NODES: SimulatedNode[] = [
  {
    name: 'talos-76w-3r0',
    arch: 'amd64',
    labels: { 'nvidia.com/gpu.present': 'true', 'nvidia.com/gpu.product': 'NVIDIA-GeForce-RTX-5070-Ti' },
    resources: { cpu: '32', memory: '192Gi', pods: '110', 'nvidia.com/gpu': '1' },
  },
  dgxSpark('talos-7aj-lwl'),
  dgxSpark('talos-ysi-4k0'),
];

export function nodeManifest(node: SimulatedNode): V1Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: node.name,
      annotations: { ...KWOK_NODE_ANNOTATION, 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/arch': node.arch,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/hostname': node.name,
        'node-role.kubernetes.io/control-plane': '',
        type: 'kwok',
        ...node.labels,
      },
    },
    status: {
      // Where the API server reaches the node's kubelet (KWOK's server on loopback, for pod logs). Both types,
      // as a kubelet reports them: with either missing, KWOK's node-initialize stage rewrites the addresses
      // each time the node comes back Ready, and leaves none.
      addresses: [
        { type: 'InternalIP', address: '127.0.0.1' },
        { type: 'Hostname', address: node.name },
      ],
      capacity: node.resources,
      allocatable: node.resources,
      nodeInfo: {
        architecture: node.arch,
        operatingSystem: 'linux',
        osImage: 'Talos (v1.11.5) — simulated by KWOK',
        kubeletVersion: 'v1.33.13',
        kubeProxyVersion: '',
        containerRuntimeVersion: 'containerd://2.1.4',
        kernelVersion: '6.12.57-talos',
        bootID: '',
        machineID: '',
        systemUUID: '',
      },
    },
  };
}

/** Creates the node if missing; KWOK then marks it Ready within about a second. */
export async function ensureNode(core: CoreV1Api, node: SimulatedNode): Promise<void> {
  try {
    await core.createNode({ body: nodeManifest(node) });
  } catch (error) {
    if ((error as { code?: number }).code !== 409) throw error;
  }
}

/** Simulates a node failure (kubelet stops reporting Ready) or its recovery. */
export async function setNodeNotReady(core: CoreV1Api, name: string, notReady: boolean): Promise<void> {
  await core.patchNode(
    { name, body: { metadata: { labels: { [NOT_READY_LABEL]: notReady ? 'true' : null } } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

/** A node that registered but whose kubelet does not report yet: no KWOK annotation, so never Ready. */
export async function registerJoiningNode(core: CoreV1Api, node: SimulatedNode): Promise<void> {
  const manifest = nodeManifest(node);
  for (const key of Object.keys(KWOK_NODE_ANNOTATION)) delete manifest.metadata!.annotations![key];
  await core.createNode({ body: manifest });
}

/**
 * The joining node's kubelet comes up: KWOK takes the node over. KWOK does not adopt pods bound to the
 * node before it managed it (a real kubelet would start them), so this SIMULATOR step deletes those
 * Pending pods; their DaemonSets recreate them and KWOK runs the new ones.
 */
export async function startKubelet(core: CoreV1Api, name: string): Promise<void> {
  await core.patchNode({ name, body: { metadata: { annotations: KWOK_NODE_ANNOTATION } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  const pods = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${name},status.phase=Pending` });
  for (const pod of pods.items) {
    await core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, gracePeriodSeconds: 0 });
  }
}

/**
 * What kind of machine a node is, from what the API server says of it (the banner's node list):
 * `amd64 + RTX 5070 Ti`, `DGX Spark + 4 VFs`. The GB10 is the DGX Spark's own chip; VFs are the node's
 * allocatable ConnectX-7 virtual functions right now.
 */
export function nodeClass(node: V1Node): string {
  const labels = node.metadata?.labels ?? {};
  const gpu = labels['nvidia.com/gpu.product'];
  const machine =
    gpu === 'NVIDIA-GB10'
      ? 'DGX Spark'
      : [labels['kubernetes.io/arch'], gpu?.replace(/^NVIDIA-(GeForce-)?/, '').replaceAll('-', ' ')].filter(Boolean).join(' + ');
  const vfs = Number(node.status?.allocatable?.['nvidia.com/cx7_qsfp'] ?? 0);
  return vfs > 0 ? `${machine} + ${vfs} VFs` : machine;
}

export const nodeReadiness = (node: V1Node): string => (node.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? 'Ready' : 'NotReady');
