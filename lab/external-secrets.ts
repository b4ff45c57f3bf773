import { mkdirSync } from 'node:fs';
import type { InfraPaths } from './infra/paths.js';
import { freePort, killLeftovers, launch, waitReady } from './process.js';
import type { ManagedProcess } from './process.js';

export interface ExternalSecretsController {
  controller: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * The real External Secrets Operator controller (external-secrets v0.20.4, pinned in lab/infra/install.sh) as
 * a process against the control plane: ExternalSecrets, SecretStores and ClusterSecretStores only. No
 * webhook and no cert-controller (separate subcommands we do not run), no PushSecrets and no
 * ClusterExternalSecrets; metrics and health on loopback. It watches every namespace, because the lab's
 * ExternalSecrets live in several and each test file has its own; `--namespace` would confine it to one.
 */
export async function startExternalSecrets(
  dir: string,
  infra: InfraPaths,
  kubeconfig: string,
  options: {
    /** ExternalSecrets reconciled at once (ESO's default 1; a test run's many files need more). */
    concurrent?: number;
    /** How often ESO re-validates each ClusterSecretStore (its default 5m). */
    storeRequeueInterval?: string;
  } = {},
): Promise<ExternalSecretsController> {
  mkdirSync(dir, { recursive: true });
  killLeftovers(dir);
  const [metrics, live] = await Promise.all([freePort(), freePort()]);
  // ESO reads KUBECONFIG (controller-runtime's config loader); it has no --kubeconfig flag of its own.
  const controller = launch(
    dir,
    'external-secrets',
    infra.externalSecrets,
    [
      `--metrics-addr=127.0.0.1:${metrics}`,
      `--live-addr=127.0.0.1:${live}`,
      `--concurrent=${options.concurrent ?? 1}`,
      `--store-requeue-interval=${options.storeRequeueInterval ?? '5m'}`,
      '--enable-cluster-store-reconciler=true',
      '--enable-cluster-external-secret-reconciler=false',
      '--enable-push-secret-reconciler=false',
      '--enable-cluster-push-secret-reconciler=false',
      '--enable-leader-election=false',
      '--zap-time-encoding=iso8601',
    ],
    { KUBECONFIG: kubeconfig },
  );
  try {
    await waitReady(controller, async () => (await fetch(`http://127.0.0.1:${live}/healthz`)).ok);
  } catch (error) {
    await controller.stop();
    throw error;
  }
  return { controller, stop: () => controller.stop() };
}
