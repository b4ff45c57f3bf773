import { ApplicationFailure } from '@temporalio/common';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { V1Node, V1Taint } from '@kubernetes/client-node';
import { FailureType } from '../../failures.js';
import { unlessNotFound } from '../kube/clients.js';
import type { KubeClients } from '../kube/clients.js';

/**
 * Bad-node quarantine: a node that keeps failing NCCL attempts for reasons of its own gets a NoSchedule taint
 * (value: the workflow that put it there) and the reason in an annotation, so nothing new lands on it until an
 * operator has looked at it and lifts it (`cluster-ops nccl quarantine lift <node>`). Running pods stay.
 */
export const QUARANTINE_TAINT = 'cluster-ops.wcloud.sh/quarantine';
export const QUARANTINE_REASON_ANNOTATION = 'cluster-ops.wcloud.sh/quarantine-reason';

export interface Quarantine {
  node: string;
  reason: string;
  /** The workflow that quarantined the node (the taint's value). */
  by: string;
  since?: string;
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const quarantineTaint = (node: V1Node) => node.spec?.taints?.find((t) => t.key === QUARANTINE_TAINT);

export function quarantineOf(node: V1Node): Quarantine | undefined {
  const taint = quarantineTaint(node);
  if (!taint) return undefined;
  const since = taint.timeAdded ? new Date(taint.timeAdded).toISOString() : undefined;
  return { node: node.metadata!.name!, reason: node.metadata?.annotations?.[QUARANTINE_REASON_ANNOTATION] ?? '', by: taint.value ?? '', since };
}

export function createQuarantineActivities({ core }: KubeClients) {
  /** Sets the node's taints (and reason) as read at `resourceVersion`: a concurrent change of the node loses us a 409, and the retry reads again. */
  const writeTaints = (node: V1Node, taints: V1Taint[], reason: string | null) =>
    core.patchNode(
      {
        name: node.metadata!.name!,
        body: { metadata: { resourceVersion: node.metadata!.resourceVersion, annotations: { [QUARANTINE_REASON_ANNOTATION]: reason } }, spec: { taints } },
      },
      mergePatch,
    );
  const readNode = async (name: string) => {
    const node = await unlessNotFound(core.readNode({ name }));
    if (!node) throw ApplicationFailure.nonRetryable(`node ${name} does not exist`, FailureType.UnknownNode);
    return node;
  };

  return {
    /** Taints the node unless it is quarantined already (then the first reason stays). */
    async quarantineNode({ node, reason, by }: { node: string; reason: string; by: string }): Promise<{ quarantined: boolean }> {
      const current = await readNode(node);
      if (quarantineTaint(current)) return { quarantined: false };
      const taint: V1Taint = { key: QUARANTINE_TAINT, value: by, effect: 'NoSchedule', timeAdded: new Date() };
      await writeTaints(current, [...(current.spec?.taints ?? []), taint], reason);
      return { quarantined: true };
    },

    async listQuarantines(): Promise<{ quarantines: Quarantine[] }> {
      const nodes = await core.listNode();
      return { quarantines: nodes.items.flatMap((node) => quarantineOf(node) ?? []) };
    },

    /** Removes the taint and its reason; a node that is not quarantined is left as it is. */
    async liftQuarantine({ node }: { node: string }): Promise<{ lifted: boolean }> {
      const current = await readNode(node);
      if (!quarantineTaint(current)) return { lifted: false };
      await writeTaints(
        current,
        (current.spec?.taints ?? []).filter((t) => t.key !== QUARANTINE_TAINT),
        null,
      );
      return { lifted: true };
    },
  };
}
