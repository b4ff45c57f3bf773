import type { V1Pod } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { nodeFacts } from './clients.js';
import type { KubeClients } from './clients.js';
import type { NodeFacts } from '../../domain/node.js';
import { FailureType } from '../../failures.js';

export interface ListNodesInput {
  /** Explicit node names; each must exist. */
  names?: string[];
  /** A label selector, used when names is absent. */
  selector?: string;
}

export interface PodsUsingResourceInput {
  node: string;
  resource: string;
}

const requests = (pod: V1Pod, resource: string) =>
  [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].some(
    (c) => c.resources?.requests?.[resource] !== undefined || c.resources?.limits?.[resource] !== undefined,
  );

export function createInventoryActivities({ core }: KubeClients) {
  return {
    /** The nodes a rolling operation covers, sorted by name so every run orders them the same way. */
    async listNodes({ names, selector }: ListNodesInput): Promise<NodeFacts[]> {
      const listed = await core.listNode(selector && !names ? { labelSelector: selector } : {});
      const facts = listed.items.map(nodeFacts);
      if (names) {
        const missing = names.filter((name) => !facts.some((node) => node.name === name));
        if (missing.length) throw ApplicationFailure.nonRetryable(`no such node: ${missing.join(', ')}`, FailureType.UnknownNode);
        return facts.filter((node) => names.includes(node.name)).sort((a, b) => a.name.localeCompare(b.name));
      }
      return facts.sort((a, b) => a.name.localeCompare(b.name));
    },

    /** Running or pending pods on the node that request (or limit) the resource, e.g. RDMA VFs. */
    async podsUsingResource({ node, resource }: PodsUsingResourceInput): Promise<string[]> {
      const pods = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` });
      return pods.items
        .filter((pod) => ['Pending', 'Running'].includes(pod.status?.phase ?? '') && !pod.metadata?.deletionTimestamp)
        .filter((pod) => requests(pod, resource))
        .map((pod) => `${pod.metadata!.namespace}/${pod.metadata!.name}`)
        .sort();
    },
  };
}
