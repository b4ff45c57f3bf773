import { createQuarantineActivities } from '../activities/nccl/quarantine.js';
import { kubeClients, loadKubeConfig } from '../activities/kube/clients.js';
import { table } from './render.js';
import { UsageError } from './usage.js';

/** `cluster-ops nccl quarantine list` and `lift <node>`: the nodes ncclJob quarantined, straight from the API server. */
export async function quarantineCommand(args: string[], kubeconfig: string): Promise<string> {
  const quarantine = createQuarantineActivities(kubeClients(loadKubeConfig(kubeconfig)));
  switch (args[0]) {
    case 'list': {
      const { quarantines } = await quarantine.listQuarantines();
      if (quarantines.length === 0) return 'no node is quarantined';
      return table([['NODE', 'SINCE', 'BY', 'REASON'], ...quarantines.map((q) => [q.node, q.since ?? '', q.by, q.reason])]);
    }
    case 'lift': {
      const node = args[1];
      if (!node) throw new UsageError('missing node: cluster-ops nccl quarantine lift <node>');
      const { lifted } = await quarantine.liftQuarantine({ node });
      return lifted ? `lifted the quarantine of ${node}` : `${node} is not quarantined`;
    }
    default:
      throw new UsageError(`unknown command "nccl quarantine ${args[0] ?? ''}": list or lift <node>`);
  }
}
