import { z } from 'zod';
import { describeIssues } from './schemas/validate.js';

const optionalPath = z.string().min(1).optional();
const hostPort = z.string().regex(/^[^\s:]*:\d+$/, 'must be host:port');

/** Where and how to reach Temporal: shared by the worker and the CLI. */
const temporalFields = {
  TEMPORAL_ADDRESS: hostPort.default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TASK_QUEUE: z.string().min(1).default('cluster-ops'),
  /** API key (e.g. Temporal Cloud); implies TLS. */
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  /** mTLS client certificate and key (PEM files): both or neither. */
  TEMPORAL_TLS_CERT: optionalPath,
  TEMPORAL_TLS_KEY: optionalPath,
  /** CA bundle for the server's certificate when it is not publicly trusted. */
  TEMPORAL_TLS_CA: optionalPath,
  /** AES-256-GCM payload encryption key (base64 of 32 bytes); worker and CLI need the same one. */
  CODEC_KEY: z
    .string()
    .refine((key) => Buffer.from(key, 'base64').length === 32, 'must be 32 bytes in base64 (openssl rand -base64 32)')
    .optional(),
  /** Names the key in each payload's metadata, so an old key can still decode after a key change. */
  CODEC_KEY_ID: z
    .string()
    .regex(/^[\w.-]+$/)
    .default('default'),
  /** Retired keys kept for decoding: id=base64key,id2=base64key. */
  CODEC_PREVIOUS_KEYS: z
    .string()
    .regex(/^([\w.-]+=[A-Za-z0-9+/=]+)(,[\w.-]+=[A-Za-z0-9+/=]+)*$/, 'must be id=base64key[,id=base64key]')
    .optional(),
};

function requireCertAndKeyTogether(env: { TEMPORAL_TLS_CERT?: string; TEMPORAL_TLS_KEY?: string }, ctx: z.RefinementCtx) {
  if (Boolean(env.TEMPORAL_TLS_CERT) !== Boolean(env.TEMPORAL_TLS_KEY)) {
    const missing = env.TEMPORAL_TLS_CERT ? 'TEMPORAL_TLS_KEY' : 'TEMPORAL_TLS_CERT';
    ctx.addIssue({ code: 'custom', path: [missing], message: 'mTLS needs both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY' });
  }
}

/** Cross-field rules run even when single fields failed, so one message lists every problem. */
const always = { when: () => true };

/** Where traces go: an OTLP gRPC endpoint (the cluster's OpenTelemetry collector); unset: no tracing. */
const tracingFields = { OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional() };

/** The CLI's environment. */
export const TemporalEnv = z.object({ ...temporalFields, ...tracingFields }).check(z.superRefine(requireCertAndKeyTogether, always));
export type TemporalEnv = z.output<typeof TemporalEnv>;

/** The kubectl whose `kubectl kustomize` renders Flux Kustomizations read from Git (flux plan, graphSource git). */
const kubectlField = { KUBECTL: z.string().min(1).default('kubectl') };

/** What the offline `cluster-ops flux plan` reads from the environment. */
export const FluxPlanEnv = z.object(kubectlField);

/** What `cluster-ops nccl quarantine` reads: the operator's kubeconfig. */
export const KubeEnv = z.object({ KUBECONFIG: z.string().min(1) });

/** The worker's whole environment. */
export const WorkerEnv = z
  .object({
    ...temporalFields,
    ...tracingFields,
    /** A kubeconfig file; absent means the pod's in-cluster service account. */
    KUBECONFIG: optionalPath,
    KUBERNETES_SERVICE_HOST: z.string().optional(),
    CLUSTER_NAME: z.string().min(1).default('willingham-k8s'),
    /** Where the per-cluster rolling locks (Leases) live: the worker's own namespace, whose Role allows them. */
    LEASE_NAMESPACE: z.string().min(1).default('temporal-system'),
    /** Prometheus scrape endpoint for the SDK runtime's metrics. */
    METRICS_ADDRESS: hostPort.default('0.0.0.0:9464'),
    LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
    /** The prebuilt workflow bundle (`npm run build` writes dist/workflow-bundle.js); absent: bundle at start. */
    WORKFLOW_BUNDLE: optionalPath,
    /** The GitOps repository Flux reconciles (clone URL, may carry a token); absent: no GitOps workflows. */
    GITOPS_REPO_URL: z.string().min(1).optional(),
    GITOPS_BRANCH: z.string().min(1).default('master'),
    GITOPS_CHECKOUT_DIR: z.string().min(1).default('/tmp/cluster-ops/gitops'),
    GIT_AUTHOR_NAME: z.string().min(1).default('cluster-ops'),
    GIT_AUTHOR_EMAIL: z.string().email().default('cluster-ops@wcloud.sh'),
    ...kubectlField,
    /** owner/name of the GitOps repository on GitHub, for pull requests. */
    GITHUB_REPOSITORY: z
      .string()
      .regex(/^[\w.-]+\/[\w.-]+$/, 'must be owner/name')
      .optional(),
    GITHUB_TOKEN: z.string().min(1).optional(),
    GITHUB_API_URL: z.string().url().default('https://api.github.com'),
    /** VictoriaMetrics (vmsingle) base URL for NCCL results, e.g. http://vmsingle-vm.observability.svc:8429. */
    VICTORIA_METRICS_URL: z.string().url().optional(),
    /** Keycloak, for OIDC client secret rotation; absent: no rotation workflows on this worker. */
    KEYCLOAK_URL: z.string().url().optional(),
    KEYCLOAK_REALM: z.string().min(1).default('wcloud'),
    /** The realm the admin credentials live in. */
    KEYCLOAK_ADMIN_REALM: z.string().min(1).default('master'),
    KEYCLOAK_ADMIN_CLIENT_ID: z.string().min(1).default('admin-cli'),
    /** A service-account client (preferred), or a user with KEYCLOAK_ADMIN_USERNAME/PASSWORD. */
    KEYCLOAK_ADMIN_CLIENT_SECRET: z.string().min(1).optional(),
    KEYCLOAK_ADMIN_USERNAME: z.string().min(1).optional(),
    KEYCLOAK_ADMIN_PASSWORD: z.string().min(1).optional(),
    /** Infisical machine identity (universal auth) that reads and writes the client secrets. */
    INFISICAL_URL: z.string().url().default('https://app.infisical.com'),
    INFISICAL_CLIENT_ID: z.string().min(1).optional(),
    INFISICAL_CLIENT_SECRET: z.string().min(1).optional(),
    /** host:port of the codec server for the Temporal UI (POST /encode, /decode); unset: not started. */
    CODEC_SERVER_ADDRESS: hostPort.optional(),
    /** Bearer token the codec server requires; unset: no authentication (only on a trusted network). */
    CODEC_SERVER_TOKEN: z.string().min(16).optional(),
    /** Comma-separated origins (the Temporal UI) allowed to call the codec server from a browser. */
    CODEC_CORS_ORIGINS: z
      .string()
      .default('')
      .transform((origins) =>
        origins
          .split(',')
          .map((o) => o.trim())
          .filter(Boolean),
      ),
  })
  .check(
    z.superRefine(requireCertAndKeyTogether, always),
    z.superRefine((env, ctx) => {
      if (Boolean(env.GITHUB_REPOSITORY) !== Boolean(env.GITHUB_TOKEN)) {
        const missing = env.GITHUB_REPOSITORY ? 'GITHUB_TOKEN' : 'GITHUB_REPOSITORY';
        ctx.addIssue({ code: 'custom', path: [missing], message: 'pull requests need both GITHUB_REPOSITORY and GITHUB_TOKEN' });
      }
      if (env.GITHUB_REPOSITORY && !env.GITOPS_REPO_URL) {
        ctx.addIssue({ code: 'custom', path: ['GITOPS_REPO_URL'], message: 'needed when GITHUB_REPOSITORY is set' });
      }
    }, always),
    z.superRefine((env, ctx) => {
      if (env.CODEC_SERVER_ADDRESS && !env.CODEC_KEY) {
        ctx.addIssue({ code: 'custom', path: ['CODEC_KEY'], message: 'the codec server (CODEC_SERVER_ADDRESS) needs CODEC_KEY' });
      }
    }, always),
    z.superRefine((env, ctx) => {
      if (env.KEYCLOAK_URL && !env.KEYCLOAK_ADMIN_CLIENT_SECRET && !(env.KEYCLOAK_ADMIN_USERNAME && env.KEYCLOAK_ADMIN_PASSWORD)) {
        ctx.addIssue({
          code: 'custom',
          path: ['KEYCLOAK_ADMIN_CLIENT_SECRET'],
          message: 'KEYCLOAK_URL needs KEYCLOAK_ADMIN_CLIENT_SECRET, or KEYCLOAK_ADMIN_USERNAME and KEYCLOAK_ADMIN_PASSWORD',
        });
      }
      if (Boolean(env.INFISICAL_CLIENT_ID) !== Boolean(env.INFISICAL_CLIENT_SECRET)) {
        const missing = env.INFISICAL_CLIENT_ID ? 'INFISICAL_CLIENT_SECRET' : 'INFISICAL_CLIENT_ID';
        ctx.addIssue({ code: 'custom', path: [missing], message: 'Infisical needs both INFISICAL_CLIENT_ID and INFISICAL_CLIENT_SECRET' });
      }
    }, always),
    z.superRefine((env, ctx) => {
      if (!env.KUBECONFIG && !env.KUBERNETES_SERVICE_HOST) {
        ctx.addIssue({ code: 'custom', path: ['KUBECONFIG'], message: 'not set, and not running inside a cluster' });
      }
    }, always),
  );
export type WorkerEnv = z.output<typeof WorkerEnv>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment; one error lists every bad variable, so a person fixes them all in one go. */
export function loadEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  const blankAsUnset = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const result = schema.safeParse(blankAsUnset);
  if (result.success) return result.data;
  throw new ConfigError(`bad configuration:\n${describeIssues(result.error, 'env')}`);
}
