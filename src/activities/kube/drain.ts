import { heartbeat } from '@temporalio/activity';
import { planDrain, podKey, summarizePass } from '../../domain/drain.js';
import type { DrainPassResult, DrainPlan, EvictionOutcome } from '../../domain/drain.js';
import { apiMessage, isApiStatus, podFacts } from './clients.js';
import type { KubeClients } from './clients.js';
import { readNodeOrGone } from './nodes.js';

export interface DrainPassInput {
  node: string;
  gracePeriodSeconds?: number;
}

export function createDrainActivities({ core }: KubeClients) {
  async function podsOn(node: string) {
    const pods = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` });
    return pods.items;
  }

  return {
    /** What a drain of this node would do now; reads only. */
    async planNodeDrain({ node }: { node: string }): Promise<DrainPlan> {
      return planDrain((await podsOn(node)).map(podFacts));
    },

    /**
     * One bounded drain pass through the Eviction API, after Cluster API's drain: evict every pod that
     * may go, record what a PodDisruptionBudget refused (HTTP 429) or what failed, and return. The
     * workflow repeats passes with durable sleeps until the node is drained or its deadline passes.
     */
    async drainPass({ node, gracePeriodSeconds }: DrainPassInput): Promise<DrainPassResult> {
      // A deleted node has no pods left to list, which would look like a finished drain.
      await readNodeOrGone(core, node);
      const pods = (await podsOn(node)).map(podFacts);
      const plan = planDrain(pods);
      const outcomes: EvictionOutcome[] = [];
      for (const pod of pods.filter((p) => plan.evict.includes(podKey(p)))) {
        heartbeat({ evicting: podKey(pod) });
        outcomes.push(await evict(pod.namespace, pod.name, gracePeriodSeconds));
      }
      return summarizePass(node, plan, outcomes);
    },
  };

  async function evict(namespace: string, name: string, gracePeriodSeconds?: number): Promise<EvictionOutcome> {
    const pod = `${namespace}/${name}`;
    try {
      await core.createNamespacedPodEviction({
        name,
        namespace,
        body: {
          apiVersion: 'policy/v1',
          kind: 'Eviction',
          metadata: { name, namespace },
          deleteOptions: gracePeriodSeconds === undefined ? undefined : { gracePeriodSeconds },
        },
      });
      return { pod, outcome: 'evicted' };
    } catch (error) {
      if (isApiStatus(error, 404)) return { pod, outcome: 'evicted' };
      if (isApiStatus(error, 429)) return { pod, outcome: 'blocked', reason: apiMessage(error) };
      return { pod, outcome: 'failed', message: apiMessage(error) };
    }
  }
}
