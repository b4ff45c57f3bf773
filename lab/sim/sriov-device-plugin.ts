import { makeInformer, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import { kubeClients } from '../../src/activities/kube/clients.js';
import { SRIOV_INIT_CONTAINER } from '../../src/domain/sriov-config.js';

export const SRIOV_RESOURCE = 'nvidia.com/cx7_qsfp';
/** Node label that caps the VFs the simulated NIC firmware allows (to simulate a node failing verification). */
export const SIM_VF_LIMIT_LABEL = 'sim.cluster-ops.wcloud.sh/vf-limit';

/**
 * SIMULATOR of the SR-IOV device plugin (and its VF-creating init container). On real nodes the init
 * container writes sriov_numvfs and the plugin registers the VFs with the kubelet; KWOK nodes have no
 * kubelet, so this sets the node's capacity/allocatable of nvidia.com/cx7_qsfp to the pod's NUM_VFS when
 * the DaemonSet pod turns Ready (capped by the node label sim.cluster-ops.wcloud.sh/vf-limit, standing in
 * for a NIC firmware limit), and to 0 when it goes away (the plugin unregistered).
 */
export function startSimulatedSriovDevicePlugin(config: KubeConfig, options: { namespace?: string; labelSelector?: string } = {}) {
  const namespace = options.namespace ?? 'kube-system';
  const labelSelector = options.labelSelector ?? 'app=sriov-device-plugin';
  const { core } = kubeClients(config);
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const advertised = new Map<string, string>();

  // Events for one node are applied in order: a late "0" must never overwrite the count of the new pod.
  const queues = new Map<string, Promise<void>>();
  const advertise = (node: string, requested: string) => {
    const next = (queues.get(node) ?? Promise.resolve()).then(() => advertiseNow(node, requested));
    queues.set(node, next);
    return next;
  };
  const advertiseNow = async (node: string, requested: string) => {
    const limit = (await core.readNode({ name: node }).catch(() => undefined))?.metadata?.labels?.[SIM_VF_LIMIT_LABEL];
    const count = limit === undefined ? requested : String(Math.min(Number(requested), Number(limit)));
    if (advertised.get(node) === count) return;
    advertised.set(node, count);
    await core
      .patchNodeStatus({ name: node, body: { status: { capacity: { [SRIOV_RESOURCE]: count }, allocatable: { [SRIOV_RESOURCE]: count } } } }, mergePatch)
      .catch(() => advertised.delete(node));
  };
  const numVfsOf = (pod: V1Pod) => pod.spec?.initContainers?.find((c) => c.name === SRIOV_INIT_CONTAINER)?.env?.find((e) => e.name === 'NUM_VFS')?.value ?? '0';
  const isServing = (pod: V1Pod) => !pod.metadata?.deletionTimestamp && pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
  // The node's count follows the DaemonSet pod serving there now, whatever order events for the old and
  // the new pod arrive in: a Ready, not-terminating pod advertises its NUM_VFS; none advertises 0.
  const refresh = (pod: V1Pod) => {
    const node = pod.spec?.nodeName;
    if (!node) return;
    const serving = informer.list(namespace).find((p) => p.spec?.nodeName === node && isServing(p));
    void advertise(node, serving ? numVfsOf(serving) : '0');
  };

  const informer = makeInformer(config, `/api/v1/namespaces/${namespace}/pods`, () => core.listNamespacedPod({ namespace, labelSelector }), labelSelector);
  informer.on('add', refresh);
  informer.on('update', refresh);
  informer.on('delete', refresh);
  let stopped = false;
  informer.on('error', () => {
    if (!stopped) setTimeout(() => void informer.start(), 500);
  });
  const started = informer.start();
  return {
    ready: started,
    stop: async () => {
      stopped = true;
      await informer.stop();
    },
  };
}
