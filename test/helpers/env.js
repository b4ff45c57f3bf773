/** Environment variables through which global-setup tells test files where the servers are. */
export const TEST_ENV = {
  kubeconfig: 'CLUSTER_OPS_TEST_KUBECONFIG',
  temporalAddress: 'CLUSTER_OPS_TEST_TEMPORAL_ADDRESS',
  testServer: 'CLUSTER_OPS_TEST_TIME_SKIPPING_SERVER',
  temporalCli: 'CLUSTER_OPS_TEST_TEMPORAL_CLI',
  kubeBin: 'CLUSTER_OPS_TEST_KUBE_BIN',
  crds: 'CLUSTER_OPS_TEST_CRDS',
  bundle: 'CLUSTER_OPS_TEST_WORKFLOW_BUNDLE',
  victoriaMetrics: 'CLUSTER_OPS_TEST_VICTORIA_METRICS_URL',
  /** Jaeger's OTLP gRPC receiver, for OTEL_EXPORTER_OTLP_ENDPOINT. */
  jaegerOtlp: 'CLUSTER_OPS_TEST_JAEGER_OTLP_URL',
  /** Jaeger's HTTP query API (/api/traces). */
  jaegerQuery: 'CLUSTER_OPS_TEST_JAEGER_QUERY_URL',
  keycloakUrl: 'CLUSTER_OPS_TEST_KEYCLOAK_URL',
  /** user:password of Keycloak's bootstrap admin (master realm). */
  keycloakAdmin: 'CLUSTER_OPS_TEST_KEYCLOAK_ADMIN',
  keycloakLog: 'CLUSTER_OPS_TEST_KEYCLOAK_LOG',
  /** Bare repositories put under this directory are served to Flux at gitUrl/<name>.git. */
  gitRoot: 'CLUSTER_OPS_TEST_GIT_ROOT',
  gitUrl: 'CLUSTER_OPS_TEST_GIT_URL',
  externalSecretsLog: 'CLUSTER_OPS_TEST_EXTERNAL_SECRETS_LOG',
};

/**
 * Where the workers of the tests keep the rolling locks (Leases): a namespace no test's GitOps seed or
 * manifests apply, so nothing a test reconciles or cleans up can reach it.
 */
export const TEST_LEASE_NAMESPACE = 'cluster-ops-locks';

/** @param {keyof typeof TEST_ENV} name */
export function testEnv(name) {
  const value = process.env[TEST_ENV[name]];
  if (!value) throw new Error(`${TEST_ENV[name]} is not set: run the tests with npm test (jest global setup)`);
  return value;
}
