import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { InfraPaths } from './infra/paths.js';
import { freePort, killLeftovers, launch, waitReady } from './process.js';
import type { ManagedProcess } from './process.js';

export interface FluxControllers {
  sourceController: ManagedProcess;
  kustomizeController: ManagedProcess;
  /** kustomize-controller's Prometheus endpoint (controller-runtime's reconcile and work queue metrics). */
  kustomizeMetricsUrl: string;
  stop(): Promise<void>;
}

/** Flux's default requeue of a Kustomization whose dependencies are not Ready yet (kept here on purpose). */
export const FLUX_REQUEUE_DEPENDENCY = '30s';

/**
 * The real fluxcd/source-controller and kustomize-controller (pinned in lab/infra/install.sh) as processes
 * against the control plane, watching every namespace: one pair serves the lab, or a whole test run in
 * which each test file keeps its GitRepository and Kustomizations in its own namespace.
 */
export async function startFluxControllers(
  dir: string,
  infra: InfraPaths,
  kubeconfig: string,
  options: {
    requeueDependency?: string;
    /** Kustomizations reconciled at once (Flux's default 4; a test run's many namespaces need more). */
    concurrent?: number;
    /** source-controller's artifact server; fixed in the lab, whose GitRepositories' status keeps the URL across restarts. */
    storagePort?: number;
  } = {},
): Promise<FluxControllers> {
  // source-controller refuses a storage path that does not exist yet.
  mkdirSync(join(dir, 'artifacts'), { recursive: true });
  // A temporary directory of this pair's own: kustomize-controller extracts each artifact into
  // $TMPDIR/kustomization-*, and at start it deletes every such directory it finds there as a leftover of an
  // earlier process, so a second controller started on the machine (another test run, the next bench trial)
  // deleted the directories of reconciles in flight ("kustomize build failed: ... lstat /tmp/kustomization-...:
  // no such file or directory").
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  killLeftovers(dir);
  const [sourceMetrics, sourceHealth, kustomizeMetrics, kustomizeHealth] = await Promise.all(Array.from({ length: 4 }, freePort));
  const storagePort = options.storagePort ?? (await freePort());
  // The controllers take no --kubeconfig flag; RUNTIME_NAMESPACE is where they would put their events.
  const env = { KUBECONFIG: kubeconfig, RUNTIME_NAMESPACE: 'flux-system', TMPDIR: join(dir, 'tmp') };
  const common = ['--log-level=info', '--log-encoding=json', '--watch-all-namespaces=true'];
  const sourceController = launch(
    dir,
    'source-controller',
    infra.fluxSourceController,
    [
      ...common,
      `--storage-path=${join(dir, 'artifacts')}`,
      `--storage-addr=127.0.0.1:${storagePort}`,
      `--storage-adv-addr=127.0.0.1:${storagePort}`,
      `--metrics-addr=127.0.0.1:${sourceMetrics}`,
      `--health-addr=127.0.0.1:${sourceHealth}`,
    ],
    env,
  );
  const kustomizeController = launch(
    dir,
    'kustomize-controller',
    infra.fluxKustomizeController,
    [
      ...common,
      `--requeue-dependency=${options.requeueDependency ?? FLUX_REQUEUE_DEPENDENCY}`,
      `--concurrent=${options.concurrent ?? 4}`,
      `--metrics-addr=127.0.0.1:${kustomizeMetrics}`,
      `--health-addr=127.0.0.1:${kustomizeHealth}`,
    ],
    env,
  );
  const stop = async () => {
    await Promise.all([kustomizeController.stop(), sourceController.stop()]);
  };
  try {
    const ready = (port: number) => async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
    await Promise.all([waitReady(sourceController, ready(sourceHealth)), waitReady(kustomizeController, ready(kustomizeHealth))]);
  } catch (error) {
    await stop();
    throw error;
  }
  return { sourceController, kustomizeController, kustomizeMetricsUrl: `http://127.0.0.1:${kustomizeMetrics}/metrics`, stop };
}
