import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { CoreV1Api, V1Node } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type { CordonState, NodeIdentity } from '../../domain/node.js';
import { FailureType } from '../../failures.js';
import { isApiStatus, LOST_RACE, untilWritten } from './clients.js';
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
  /**
   * A merge patch that carries the resourceVersion we read, so the API server applies it only to the node as
   * we saw it: LOST_RACE when the node changed meanwhile (409 Conflict), and the caller decides again on a
   * fresh read.
   */
  async function patchIfUnchanged(current: V1Node, body: { spec: object; metadata: { annotations: Record<string, string | null> } }) {
    const name = current.metadata!.name!;
    const metadata = { ...body.metadata, resourceVersion: current.metadata!.resourceVersion };
    return core.patchNode({ name, body: { ...body, metadata } }, mergePatch).catch((error: unknown) => {
      if (isApiStatus(error, 409)) return LOST_RACE;
      throw error;
    });
  }

  return {
    /**
     * Idempotent: a retry after a lost reply finds our own annotation and reports the same result. An admin's
     * cordon that lands between our read and our write makes the write conflict; the next read sees it, and
     * it is reported as theirs, never adopted as ours.
     */
    async cordonNode({ node, owner }: CordonInput): Promise<CordonResult> {
      return untilWritten(`cordoning node ${node}`, async () => {
        const current = await readNodeOrGone(core, node);
        const cordonedBy = current.metadata?.annotations?.[CORDONED_BY_ANNOTATION];
        if (current.spec?.unschedulable) {
          return cordonedBy === owner ? { node, cordonedByOthers: false } : { node, cordonedByOthers: true, cordonedBefore: cordonedBy ?? ADMIN_CORDON };
        }
        const written = await patchIfUnchanged(current, { spec: { unschedulable: true }, metadata: { annotations: { [CORDONED_BY_ANNOTATION]: owner } } });
        return written === LOST_RACE ? LOST_RACE : { node, cordonedByOthers: false };
      });
    },

    /**
     * Uncordons only a cordon of this owner, checked on the node as it is when the write lands. A deleted
     * node has no cordon left to undo: that is an answer, not an error.
     */
    async uncordonNode({ node, owner }: UncordonInput): Promise<UncordonResult> {
      return untilWritten(`uncordoning node ${node}`, async () => {
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
        const written = await patchIfUnchanged(current, { spec: { unschedulable: null }, metadata: { annotations: { [CORDONED_BY_ANNOTATION]: null } } });
        return written === LOST_RACE ? LOST_RACE : { node, uncordoned: true, reason: 'uncordoned' };
      });
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
