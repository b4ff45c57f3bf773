import { z } from 'zod';
import { dnsLabel, gitRef, repoPath, seconds } from './common.js';

export const BootstrapClusterInput = z.strictObject({
  /** Names the run: the workflow id is bootstrap-cluster-<cluster>. */
  cluster: dnsLabel.default('willingham-k8s'),
  /** Where the Kustomizations live. */
  namespace: dnsLabel.default('flux-system'),
  /**
   * Where the graph is read: the live cluster, or the GitOps repo at gitRef (from entryPath, following
   * every Kustomization's spec.path), e.g. to bring a rebuilt cluster up to a known revision's plan.
   */
  graphSource: z.enum(['cluster', 'git']).default('cluster'),
  gitRef: gitRef.default('master'),
  /** graphSource git: the cluster's entry folder in the repo; default clusters/<cluster>, discovered when missing. */
  entryPath: repoPath.optional(),
  /** How many Kustomizations reconcile at once (Flux's own --concurrent is 4 by default). */
  parallelism: z.number().int().min(1).max(32).default(4),
  /** Per Kustomization: how long Flux may take to report Ready for our request. */
  kustomizationTimeoutSeconds: seconds(24 * 3600).default(900),
  /** Un-suspend suspended Kustomizations when their turn comes (otherwise they are skipped). */
  resumeSuspended: z.boolean().default(false),
  /** Return the levels and change nothing. */
  dryRun: z.boolean().default(false),
});
export type BootstrapClusterInput = z.input<typeof BootstrapClusterInput>;

export const bootstrapClusterId = (cluster: string) => `bootstrap-cluster-${cluster}`;
