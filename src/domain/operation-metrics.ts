/**
 * The operation metrics the workflows record with the SDK's metric meter, next to the SDK's own
 * `temporal_*` metrics on the worker's Prometheus endpoint (docs/operations.md, Metrics). The SDK adds
 * namespace, taskQueue and workflowType to each; the labels listed here are ours.
 */
export const OPERATION_METRICS = {
  nodePhaseSeconds: {
    name: 'cluster_ops_node_phase_seconds',
    help: 'How long a phase of a node operation took (cordon, drain, verify, hook, gate, ...), by node and outcome',
    labels: ['phase', 'node', 'outcome'],
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 14400],
  },
  evictions: {
    name: 'cluster_ops_evictions_total',
    help: 'Pods evicted by drain passes, by node',
    labels: ['node'],
  },
  blockedEvictions: {
    name: 'cluster_ops_evictions_blocked_total',
    help: 'Evictions a PodDisruptionBudget refused (retried on the next pass), by node',
    labels: ['node'],
  },
  rotations: {
    name: 'cluster_ops_oidc_rotations_total',
    help: 'OIDC client secret rotations, by client and outcome (rotated, aborted, failed, cancelled)',
    labels: ['client', 'outcome'],
  },
  lastRotation: {
    name: 'cluster_ops_oidc_last_rotation_timestamp_seconds',
    help: 'When the client secret was last rotated successfully (Unix seconds), by client: the dashboard shows its age',
    labels: ['client'],
  },
  runsStarted: {
    name: 'cluster_ops_runs_started_total',
    help: 'Runs started (the SDK adds workflowType); with the SDK ended-run counters, the runs in progress on this worker',
    labels: [],
  },
  kustomizationReconcileSeconds: {
    name: 'cluster_ops_kustomization_reconcile_seconds',
    help: 'From our reconcile request to the Kustomization Ready (or failed), by Kustomization and outcome',
    labels: ['kustomization', 'outcome'],
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600],
  },
  ncclAttempts: {
    name: 'cluster_ops_nccl_attempts_total',
    // nccl_job, not job: a scrape's own job label would overwrite it.
    help: 'ncclJob attempts as they end, by job, kind, outcome, classified cause (none when it succeeded) and what the failure policy did next',
    labels: ['nccl_job', 'kind', 'outcome', 'cause', 'action'],
  },
} as const;

/** The bucket bounds of our histograms, for the worker's Prometheus exporter (the SDK's default tops out at 10 s). */
export const OPERATION_HISTOGRAM_BUCKETS: Record<string, number[]> = Object.fromEntries(
  Object.values(OPERATION_METRICS).flatMap((metric) => ('buckets' in metric ? [[metric.name, [...metric.buckets]]] : [])),
);
