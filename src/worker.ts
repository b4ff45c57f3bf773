import { fileURLToPath } from 'node:url';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { LogEntry, WorkerOptions } from '@temporalio/worker';
import type { DataConverter } from '@temporalio/common';
import { codecFromEnv } from './codec.js';
import { startCodecServer } from './codec-server.js';
import { createActivities } from './activities/index.js';
import type { ActivityDeps } from './activities/index.js';
import { Octokit } from 'octokit';
import { kubectlKustomize } from './activities/gitops/flux-tree.js';
import { GitOpsRepo } from './activities/gitops/repo.js';
import type { GitOpsDeps } from './activities/gitops/activities.js';
import type { KeycloakDeps } from './activities/keycloak/admin.js';
import { kubeClients, loadKubeConfig } from './activities/kube/clients.js';
import { ConfigError, loadEnv, WorkerEnv } from './config.js';
import { OPERATION_HISTOGRAM_BUCKETS } from './domain/operation-metrics.js';
import { temporalConnectionOptions } from './temporal-connection.js';
import { startTracing, workerTracing } from './tracing.js';
import type { Tracing } from './tracing.js';
import { bundleOptions, workflowInterceptorModules, workflowsPath } from './workflow-bundle.js';

export interface WorkerSetup {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** Path of a prebuilt bundle; without it the worker bundles the workflow sources itself. */
  workflowBundlePath?: string;
  /** Payload encryption (the same codec the clients use); absent: payloads are plain JSON. */
  dataConverter?: DataConverter;
  /** Where activity and workflow spans go (src/tracing.ts); absent: no activity spans, workflow spans dropped. */
  tracing?: Tracing;
  tuning?: WorkerTuning;
}

/**
 * What a test may change in the production worker: the kill sweep (test/durability) adds an activity
 * interceptor that picks the moment to die, runs one activity at a time so the moment is exact, and keeps no
 * workflow cache, so a dead worker holds no sticky workflow task that the server must first time out.
 */
export type WorkerTuning = Pick<WorkerOptions, 'interceptors' | 'maxCachedWorkflows' | 'maxConcurrentActivityTaskExecutions'>;

/**
 * Slots and cache, from bench/ (docs/operations.md, Worker sizing): the largest runs measured keep 21 workflows
 * open (a 200-node maintenance at maxUnavailable 10: each node's child and its drain, and the run) and 32
 * activities in flight (a 500-Kustomization bootstrap at parallelism 32); these leave room for both at once
 * and bound the worker's memory and its load on the API server.
 */
const SIZING = { maxCachedWorkflows: 100, maxConcurrentActivityTaskExecutions: 64 };

/**
 * A cancellation reaches an activity only in the answer to a heartbeat, and the SDK sends an activity's
 * heartbeats at most every 80 % of its heartbeat timeout: 24 s for a drain pass, which an aborted rollout
 * would spend evicting. Once a second bounds that, for at most one small call a second per running activity.
 */
const HEARTBEATS_AT_MOST_EVERY = '1 second';

/** Every workflow and activity on one task queue. Tests and the lab call this with their own clients. */
export async function createWorker({ connection, namespace, taskQueue, deps, workflowBundlePath, dataConverter, tracing, tuning }: WorkerSetup) {
  const traced = workerTracing(tracing);
  return Worker.create({
    ...SIZING,
    ...tuning,
    connection,
    dataConverter,
    namespace,
    taskQueue,
    activities: createActivities(deps),
    // Tracing's outermost: a test's interceptor (the kill sweep's) runs inside the activity's span.
    interceptors: {
      ...tuning?.interceptors,
      activity: [...traced.activity, ...(tuning?.interceptors?.activity ?? [])],
      // A prebuilt bundle has them already (a worker given them anyway warns that it ignores them).
      workflowModules: workflowBundlePath ? [] : workflowInterceptorModules,
    },
    sinks: traced.sinks,
    ...(workflowBundlePath ? { workflowBundle: { codePath: workflowBundlePath } } : { workflowsPath: workflowsPath(), bundlerOptions: bundleOptions }),
    shutdownGraceTime: '30 seconds',
    maxHeartbeatThrottleInterval: HEARTBEATS_AT_MOST_EVERY,
  });
}

/** The GitOps repository and GitHub, when configured. */
export function gitOpsFromEnv(env: WorkerEnv): GitOpsDeps | undefined {
  if (!env.GITOPS_REPO_URL) return undefined;
  const repo = new GitOpsRepo({
    url: env.GITOPS_REPO_URL,
    baseBranch: env.GITOPS_BRANCH,
    checkoutDir: env.GITOPS_CHECKOUT_DIR,
    author: { name: env.GIT_AUTHOR_NAME, email: env.GIT_AUTHOR_EMAIL },
  });
  const renderKustomize = kubectlKustomize(env.KUBECTL);
  if (!env.GITHUB_REPOSITORY || !env.GITHUB_TOKEN) return { repo, renderKustomize };
  const [owner, name] = env.GITHUB_REPOSITORY.split('/') as [string, string];
  return { repo, renderKustomize, github: { octokit: new Octokit({ auth: env.GITHUB_TOKEN, baseUrl: env.GITHUB_API_URL }), owner, repo: name } };
}

/** Keycloak's admin API and Infisical, when configured (OIDC client secret rotation). */
export function secretRotationFromEnv(env: WorkerEnv): Pick<ActivityDeps, 'keycloak' | 'infisical'> {
  const keycloak: KeycloakDeps | undefined = env.KEYCLOAK_URL
    ? {
        url: env.KEYCLOAK_URL,
        realm: env.KEYCLOAK_REALM,
        adminRealm: env.KEYCLOAK_ADMIN_REALM,
        credentials: env.KEYCLOAK_ADMIN_CLIENT_SECRET
          ? { clientId: env.KEYCLOAK_ADMIN_CLIENT_ID, clientSecret: env.KEYCLOAK_ADMIN_CLIENT_SECRET }
          : { clientId: env.KEYCLOAK_ADMIN_CLIENT_ID, username: env.KEYCLOAK_ADMIN_USERNAME!, password: env.KEYCLOAK_ADMIN_PASSWORD! },
      }
    : undefined;
  const infisical = env.INFISICAL_CLIENT_ID
    ? { siteUrl: env.INFISICAL_URL, clientId: env.INFISICAL_CLIENT_ID, clientSecret: env.INFISICAL_CLIENT_SECRET! }
    : undefined;
  return { keycloak, infisical };
}

function jsonLog(entry: LogEntry) {
  const { level, message, meta, timestampNanos } = entry;
  const time = new Date(Number(timestampNanos / 1_000_000n)).toISOString();
  process.stdout.write(`${JSON.stringify({ time, level, message, ...meta })}\n`);
}

/** The worker process: configuration from the environment (src/config.ts), runs until SIGTERM/SIGINT. */
export async function runWorker(tuning?: WorkerTuning) {
  const env = loadEnv(WorkerEnv);
  // JSON logs and Prometheus metrics come from the SDK runtime (the SDK's own and the operation metrics the
  // workflows record on its meter); it also turns SIGTERM/SIGINT into a graceful shutdown: running
  // activities get shutdownGraceTime to finish.
  Runtime.install({
    logger: new DefaultLogger(env.LOG_LEVEL, jsonLog),
    telemetryOptions: { metrics: { prometheus: { bindAddress: env.METRICS_ADDRESS, histogramBucketOverrides: OPERATION_HISTOGRAM_BUCKETS } } },
  });
  const tracing = startTracing('cluster-ops-worker', env.OTEL_EXPORTER_OTLP_ENDPOINT);
  const connection = await NativeConnection.connect(temporalConnectionOptions(env));
  const codec = codecFromEnv(env);
  const codecServer =
    codec && env.CODEC_SERVER_ADDRESS
      ? await startCodecServer({ codec, address: env.CODEC_SERVER_ADDRESS, corsOrigins: env.CODEC_CORS_ORIGINS, token: env.CODEC_SERVER_TOKEN })
      : undefined;
  if (codecServer) Runtime.instance().logger.info('codec server listening', { url: codecServer.url });
  const worker = await createWorker({
    dataConverter: codec ? { payloadCodecs: [codec] } : undefined,
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue: env.TASK_QUEUE,
    deps: {
      kube: kubeClients(loadKubeConfig(env.KUBECONFIG)),
      gitops: gitOpsFromEnv(env),
      metrics: env.VICTORIA_METRICS_URL ? { url: env.VICTORIA_METRICS_URL } : undefined,
      leaseNamespace: env.LEASE_NAMESPACE,
      ...secretRotationFromEnv(env),
    },
    workflowBundlePath: env.WORKFLOW_BUNDLE,
    tracing,
    tuning,
  });
  try {
    await worker.run();
  } finally {
    await codecServer?.close();
    await connection.close();
    // The last workflow and activity spans, ended by the shutdown, are still in the batch.
    await tracing?.shutdown();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runWorker().catch((error: unknown) => {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    console.error(error);
    process.exit(1);
  });
}
