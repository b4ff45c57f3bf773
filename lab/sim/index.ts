import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { startFakeGitHub } from '../fakes/github.js';
import type { FakeGitHub } from '../fakes/github.js';
import { bootstrapFlux, fluxNamespace, GITOPS_URL, seedGitOpsRepo, sriovNamespace } from '../gitops.js';
import type { GitOpsPlacement } from '../gitops.js';
import { startSimulatedFlux } from './flux.js';
import type { SimulatedFluxOptions } from './flux.js';
import { startSimulatedSriovDevicePlugin } from './sriov-device-plugin.js';

export interface LabGitOps {
  bareRepo: string;
  github: FakeGitHub;
  stop(): Promise<void>;
}

/**
 * The GitOps side of the lab: a bare repo seeded with the cluster config, Flux bootstrapped onto the
 * control plane, and the stand-ins that keep it moving — simulated Flux, simulated SR-IOV device plugin,
 * fake GitHub. Needs the Flux CRDs installed.
 */
export async function startLabGitOps(
  config: KubeConfig,
  dir: string,
  options: { autoMerge?: boolean; placement?: GitOpsPlacement; flux?: Partial<SimulatedFluxOptions> } = {},
): Promise<LabGitOps> {
  const placement = options.placement ?? {};
  const bareRepo = join(dir, 'k8s-config.git');
  await seedGitOpsRepo(bareRepo, placement);
  await bootstrapFlux(config, placement);
  const flux = startSimulatedFlux(config, {
    workdir: join(dir, 'flux-sim'),
    namespace: fluxNamespace(placement),
    sources: { [GITOPS_URL]: bareRepo },
    ...options.flux,
  });
  const devicePlugin = startSimulatedSriovDevicePlugin(config, { namespace: sriovNamespace(placement) });
  await devicePlugin.ready;
  const github = await startFakeGitHub({ bareRepo, autoMerge: options.autoMerge });
  return {
    bareRepo,
    github,
    stop: async () => {
      await Promise.all([flux.stop(), devicePlugin.stop(), github.close()]);
    },
  };
}
