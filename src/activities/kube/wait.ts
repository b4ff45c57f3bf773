import { unmetExpectations } from '../../domain/node.js';
import type { NodeExpectation } from '../../domain/node.js';
import { nodeFacts } from './clients.js';
import type { KubeClients } from './clients.js';
import { watchUntil } from './watch.js';

export interface WaitForNodeInput extends NodeExpectation {
  node: string;
  timeoutSeconds: number;
}

export interface WaitForNodeResult {
  node: string;
  waitedMs: number;
}

export function createWaitActivities({ core, watch }: KubeClients) {
  return {
    /** Waits on a watch of the one node until it meets the expectation (a condition, an allocatable value). */
    async waitForNode({ node, timeoutSeconds, ...expected }: WaitForNodeInput): Promise<WaitForNodeResult> {
      const { waitedMs } = await watchUntil({
        watch,
        path: '/api/v1/nodes',
        query: { fieldSelector: `metadata.name=${node}` },
        list: () => core.listNode({ fieldSelector: `metadata.name=${node}` }),
        unmet: ([current]) => (current ? unmetExpectations(nodeFacts(current), expected) : [`node ${node} does not exist`]),
        timeoutSeconds,
        what: `node ${node}`,
      });
      return { node, waitedMs };
    },
  };
}
