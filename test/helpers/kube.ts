import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { V1ObjectMeta, V1Pod, V1Volume } from '@kubernetes/client-node';
import { createActivities } from '../../src/activities/index.js';
import { kubeClients, loadKubeConfig } from '../../src/activities/kube/clients.js';
import type { KubeClients } from '../../src/activities/kube/clients.js';
import { ensureNode, WILLINGHAM_NODES } from '../../lab/kube/nodes.js';
import type { SimulatedNode } from '../../lab/kube/nodes.js';
import { testEnv } from './env.js';

export const uniqueName = (prefix: string) => `${prefix}-${randomBytes(3).toString('hex')}`;

/** KWOK's chaos stage fails a running pod that carries this label (lab/kube/control-plane.ts). */
export const KWOK_FAIL_LABEL = 'pod-container-running-failed.stage.kwok.x-k8s.io';
/** Carried only by one test pod and its ReplicaSet, so the ReplicaSet adopts exactly that pod. */
const REPLICA_SET_LABEL = 'test.cluster-ops.wcloud.sh/replica-set';

export interface PodOptions {
  /**
   * What recreates the pod once it is gone: a ReplicaSet, as for a Deployment's pods (the default, so a
   * drain's default pod policy evicts it), or nothing (a bare pod, which drains refuse by default).
   */
  controller?: 'ReplicaSet' | 'none';
  /** Annotations, finalizers, owner references. */
  metadata?: Omit<V1ObjectMeta, 'name' | 'namespace' | 'labels'>;
  volumes?: V1Volume[];
}

/** Polls a test expectation; product code waits with watches, tests may poll. */
export async function eventually<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(200);
  }
}

/**
 * One test file's share of the shared control plane: its own namespace and its own simulated nodes
 * (nodes are cluster-wide, so each file names its own), all removed by close().
 */
export class TestCluster {
  readonly nodes: string[] = [];

  private constructor(
    readonly kube: KubeClients,
    readonly namespace: string,
  ) {}

  /** On the shared control plane, or on the one `kubeconfig` names (a test's own). */
  static async create(prefix: string, kubeconfig = testEnv('kubeconfig')): Promise<TestCluster> {
    const kube = kubeClients(loadKubeConfig(kubeconfig));
    const namespace = uniqueName(prefix);
    await kube.core.createNamespace({ body: { metadata: { name: namespace } } });
    // Pods are refused until the service-account controller has made the namespace's default account.
    await eventually(
      () =>
        kube.core.readNamespacedServiceAccount({ name: 'default', namespace }).then(
          () => true,
          () => false,
        ),
      `default service account in ${namespace}`,
    );
    return new TestCluster(kube, namespace);
  }

  /** A Ready simulated DGX Spark (or another template) with a unique name. */
  async addNode(
    template: SimulatedNode = WILLINGHAM_NODES[1]!,
    labels: Record<string, string> = {},
    { name = uniqueName(template.name), waitReady = true } = {},
  ): Promise<string> {
    await ensureNode(this.kube.core, { ...template, name, labels: { ...template.labels, ...labels } });
    this.nodes.push(name);
    if (!waitReady) return name;
    await eventually(async () => {
      const node = await this.kube.core.readNode({ name });
      return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    }, `node ${name} Ready`);
    return name;
  }

  /**
   * A pod bound straight to a node, skipping the scheduler. A ReplicaSet made for it adopts it, so the
   * pod keeps its name and gets a real controller; the ReplicaSet's replacements wait at a scheduling
   * gate, so a test decides alone which pods are on its nodes.
   */
  async addPod(
    node: string,
    name: string,
    labels: Record<string, string> = {},
    { controller = 'ReplicaSet', metadata, volumes }: PodOptions = {},
  ): Promise<V1Pod> {
    const replicaSet = controller === 'ReplicaSet' ? uniqueName(name) : undefined;
    const selector: Record<string, string> = replicaSet ? { [REPLICA_SET_LABEL]: replicaSet } : {};
    const pod: V1Pod = {
      metadata: { ...metadata, name, namespace: this.namespace, labels: { ...labels, ...selector } },
      spec: {
        nodeName: node,
        tolerations: [{ operator: 'Exists' }],
        containers: [{ name: 'main', image: 'registry.invalid/sim:1' }],
        volumes,
      },
    };
    const created = await this.kube.core.createNamespacedPod({ namespace: this.namespace, body: pod });
    if (!replicaSet) return created;
    await this.kube.apps.createNamespacedReplicaSet({
      namespace: this.namespace,
      body: {
        metadata: { name: replicaSet },
        spec: {
          replicas: 1,
          selector: { matchLabels: selector },
          template: {
            metadata: { labels: selector },
            spec: {
              schedulingGates: [{ name: 'test.cluster-ops.wcloud.sh/never' }],
              containers: [{ name: 'main', image: 'registry.invalid/sim:1' }],
            },
          },
        },
      },
    });
    return eventually(async () => {
      const adopted = await this.kube.core.readNamespacedPod({ name, namespace: this.namespace });
      return adopted.metadata?.ownerReferences?.some((owner) => owner.controller && owner.name === replicaSet) && adopted;
    }, `ReplicaSet ${replicaSet} adopting ${name}`);
  }

  /** A Job whose one pod runs on the node; KWOK completes it. Returns the finished pod's name. */
  async addFinishedJob(node: string, name: string): Promise<string> {
    await this.kube.batch.createNamespacedJob({
      namespace: this.namespace,
      body: {
        metadata: { name },
        spec: {
          template: {
            spec: {
              nodeName: node,
              restartPolicy: 'Never',
              tolerations: [{ operator: 'Exists' }],
              containers: [{ name: 'main', image: 'registry.invalid/sim:1' }],
            },
          },
        },
      },
    });
    return eventually(async () => {
      const pods = await this.kube.core.listNamespacedPod({ namespace: this.namespace, labelSelector: `job-name=${name}` });
      return pods.items.find((pod) => pod.status?.phase === 'Succeeded')?.metadata?.name;
    }, `Job ${name}'s pod Succeeded`);
  }

  async waitForPodPhase(name: string, phase: string): Promise<V1Pod> {
    return eventually(async () => {
      const pod = await this.kube.core.readNamespacedPod({ name, namespace: this.namespace });
      return pod.status?.phase === phase && pod;
    }, `pod ${name} ${phase}`);
  }

  /** A real DaemonSet pinned to one node; the DaemonSet controller makes its pod, KWOK runs it. */
  async addDaemonSet(node: string, name: string): Promise<string> {
    const labels = { app: name };
    await this.kube.apps.createNamespacedDaemonSet({
      namespace: this.namespace,
      body: {
        metadata: { name },
        spec: {
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              nodeSelector: { 'kubernetes.io/hostname': node },
              tolerations: [{ operator: 'Exists' }],
              containers: [{ name: 'main', image: 'registry.invalid/sim:1' }],
            },
          },
        },
      },
    });
    return eventually(async () => {
      const pods = await this.kube.core.listNamespacedPod({ namespace: this.namespace, labelSelector: `app=${name}` });
      return pods.items.find((pod) => pod.spec?.nodeName === node)?.metadata?.name;
    }, `DaemonSet ${name} pod on ${node}`);
  }

  /** A PodDisruptionBudget (minAvailable 1) over `app`, once the disruption controller has counted the pod. */
  async addBlockingPdb(app: string): Promise<void> {
    await this.kube.policy.createNamespacedPodDisruptionBudget({
      namespace: this.namespace,
      body: { metadata: { name: app }, spec: { minAvailable: 1, selector: { matchLabels: { app } } } },
    });
    await eventually(async () => {
      const pdb = await this.kube.policy.readNamespacedPodDisruptionBudget({ name: app, namespace: this.namespace });
      return pdb.status?.observedGeneration === pdb.metadata?.generation && pdb.status?.currentHealthy === 1;
    }, `PDB ${app} status`);
  }

  async podNames(node: string): Promise<string[]> {
    const pods = await this.kube.core.listNamespacedPod({ namespace: this.namespace, fieldSelector: `spec.nodeName=${node}` });
    return pods.items.map((pod) => pod.metadata!.name!).sort();
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.kube.core.deleteNamespace({ name: this.namespace }), ...this.nodes.map((name) => this.kube.core.deleteNode({ name }))]);
  }
}

/**
 * `kube` whose every eviction first runs `before` with the pod (`namespace/name`): an API call that is slow,
 * or one the test watches. Every other call goes straight to the real API server.
 */
export function hookEvictions(kube: KubeClients, before: (pod: string) => Promise<void> | void): KubeClients {
  const core = Object.create(kube.core) as KubeClients['core'];
  core.createNamespacedPodEviction = async (request, options) => {
    await before(`${request.namespace}/${request.name}`);
    return kube.core.createNamespacedPodEviction(request, options);
  };
  return { ...kube, core };
}

/**
 * For activity test files: a TestCluster for the file and the activities built on its clients (rolling-lock
 * Leases in the file's namespace), made in beforeAll and removed in afterAll. Read the fields inside tests,
 * after beforeAll has run.
 */
export function clusterForActivities(prefix: string) {
  const context = {} as { cluster: TestCluster; activities: ReturnType<typeof createActivities> };
  beforeAll(async () => {
    context.cluster = await TestCluster.create(prefix);
    context.activities = createActivities({ kube: context.cluster.kube, leaseNamespace: context.cluster.namespace });
  });
  afterAll(() => context.cluster?.close());
  return context;
}
