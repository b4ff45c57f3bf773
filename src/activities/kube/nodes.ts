import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { KubeClients } from './clients.js';

/** Marks a node as cordoned by one of our runs, so only that run (or its retry) undoes it. */
export const CORDONED_BY_ANNOTATION = 'cluster-ops.wcloud.sh/cordoned-by';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface CordonInput {
  node: string;
  /** Who cordons: a workflow id. Recorded on the node. */
  owner: string;
}

export interface CordonResult {
  node: string;
  /** Cordoned by someone else (an admin, another run) before us: never uncordon it. */
  cordonedByOthers: boolean;
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
      const current = await core.readNode({ name: node });
      const cordonedBy = current.metadata?.annotations?.[CORDONED_BY_ANNOTATION];
      if (current.spec?.unschedulable) return { node, cordonedByOthers: cordonedBy !== owner };
      await core.patchNode(
        { name: node, body: { spec: { unschedulable: true }, metadata: { annotations: { [CORDONED_BY_ANNOTATION]: owner } } } },
        mergePatch,
      );
      return { node, cordonedByOthers: false };
    },

    async uncordonNode({ node, owner }: UncordonInput): Promise<UncordonResult> {
      const current = await core.readNode({ name: node });
      const cordonedBy = current.metadata?.annotations?.[CORDONED_BY_ANNOTATION];
      if (!current.spec?.unschedulable) return { node, uncordoned: false, reason: 'node is schedulable' };
      if (cordonedBy !== owner) {
        return { node, uncordoned: false, reason: `cordoned by ${cordonedBy ?? 'someone else'}, left as is` };
      }
      await core.patchNode(
        { name: node, body: { spec: { unschedulable: null }, metadata: { annotations: { [CORDONED_BY_ANNOTATION]: null } } } },
        mergePatch,
      );
      return { node, uncordoned: true, reason: 'uncordoned' };
    },
  };
}
