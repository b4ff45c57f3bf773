import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { CoreV1Api } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type { CordonState, NodeIdentity } from '../../domain/node.js';
import { FailureType } from '../../failures.js';
import { isApiStatus } from './clients.js';
import type { KubeClients } from './clients.js';

/** Marks a node as cordoned by one of our runs, so only that run (or its retry) undoes it. */
export const CORDONED_BY_ANNOTATION = 'cluster-ops.wcloud.sh/cordoned-by';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface CordonInput {
  node: string;
  /** Who cordons: a workflow id. Recorded on the node. */
  owner: string;
}

export interface CordonResult extends Omit<CordonState, 'uncordoned'> {
  node: string;
}

export const ADMIN_CORDON = 'an admin or another tool (no cluster-ops annotation)';

/** Reads a node; its absence is final for the operation on it, not something to retry. */
export async function readNodeOrGone(core: CoreV1Api, node: string) {
  try {
    return await core.readNode({ name: node });
  } catch (error) {
    if (isApiStatus(error, 404)) throw ApplicationFailure.nonRetryable(`node ${node} no longer exists`, FailureType.NodeGone);
    throw error;
  }
}

export interface UncordonInput {
  node: string;
  /** Uncordon only if this owner cordoned it; an admin's cordon stays. */
  owner: string;
}

export interface UncordonResult {
  node: string;
  uncordoned: boolean;
  reason: string;
}

export function createNodeActivities({ core }: KubeClients) {
  return {
    /** Idempotent: a retry after a lost reply finds our own annotation and reports the same result. */
    async cordonNode({ node, owner }: CordonInput): Promise<CordonResult> {
      const current = await readNodeOrGone(core, node);
      const cordonedBy = current.metadata?.annotations?.[CORDONED_BY_ANNOTATION];
      if (current.spec?.unschedulable) {
        return cordonedBy === owner ? { node, cordonedByOthers: false } : { node, cordonedByOthers: true, cordonedBefore: cordonedBy ?? ADMIN_CORDON };
      }
      await core.patchNode({ name: node, body: { spec: { unschedulable: true }, metadata: { annotations: { [CORDONED_BY_ANNOTATION]: owner } } } }, mergePatch);
      return { node, cordonedByOthers: false };
    },

    /** A deleted node has no cordon left to undo: that is an answer, not an error. */
    async uncordonNode({ node, owner }: UncordonInput): Promise<UncordonResult> {
      const current = await core.readNode({ name: node }).catch((error: unknown) => {
        if (isApiStatus(error, 404)) return undefined;
        throw error;
      });
      if (!current) return { node, uncordoned: false, reason: 'node no longer exists' };
      const cordonedBy = current.metadata?.annotations?.[CORDONED_BY_ANNOTATION];
      if (!current.spec?.unschedulable) return { node, uncordoned: false, reason: 'node is schedulable' };
      if (cordonedBy !== owner) {
        return { node, uncordoned: false, reason: `cordoned by ${cordonedBy ?? 'someone else'}, left as is` };
      }
      await core.patchNode({ name: node, body: { spec: { unschedulable: null }, metadata: { annotations: { [CORDONED_BY_ANNOTATION]: null } } } }, mergePatch);
      return { node, uncordoned: true, reason: 'uncordoned' };
    },

    /**
     * The node's identity now; with `expected`, fails for good when the node was deleted, re-registered
     * (new uid) or, unless a reboot is part of the operation, rebooted (new boot ID) since it was recorded.
     */
    async nodeIdentity({ node, expected, rebootExpected = false }: { node: string; expected?: NodeIdentity; rebootExpected?: boolean }): Promise<NodeIdentity> {
      const current = await readNodeOrGone(core, node);
      const identity = { uid: current.metadata?.uid ?? '', bootId: current.status?.nodeInfo?.bootID ?? '' };
      if (expected && identity.uid !== expected.uid) {
        throw ApplicationFailure.nonRetryable(
          `node ${node} was deleted and registered again (uid ${expected.uid} → ${identity.uid})`,
          FailureType.NodeReplaced,
        );
      }
      if (expected && !rebootExpected && identity.bootId !== expected.bootId) {
        throw ApplicationFailure.nonRetryable(
          `node ${node} rebooted during the operation (boot ID ${expected.bootId || 'none'} → ${identity.bootId || 'none'})`,
          FailureType.NodeReplaced,
        );
      }
      return identity;
    },
  };
}
