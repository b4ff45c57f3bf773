import { metricMeter } from '@temporalio/workflow';
import { OPERATION_METRICS } from '../../domain/operation-metrics.js';

type Metric = (typeof OPERATION_METRICS)[keyof typeof OPERATION_METRICS];
type Tags<M extends Metric> = Record<M['labels'][number], string>;

/**
 * Records on the SDK's workflow metric meter: it skips replays, so a run replayed on another worker
 * counts nothing twice, and it adds no command, so recording changes no history.
 */
export const operationMetrics = {
  /** A phase of a node operation that started at `startedMs` (workflow time) and ended now. */
  nodePhase(tags: Tags<typeof OPERATION_METRICS.nodePhaseSeconds>, startedMs: number): void {
    seconds(OPERATION_METRICS.nodePhaseSeconds, tags, startedMs);
  },
  kustomizationReconcile(tags: Tags<typeof OPERATION_METRICS.kustomizationReconcileSeconds>, startedMs: number): void {
    seconds(OPERATION_METRICS.kustomizationReconcileSeconds, tags, startedMs);
  },
  evictions(tags: Tags<typeof OPERATION_METRICS.evictions>, evicted: number, blocked: number): void {
    count(OPERATION_METRICS.evictions, tags, evicted);
    count(OPERATION_METRICS.blockedEvictions, tags, blocked);
  },
  rotation(tags: Tags<typeof OPERATION_METRICS.rotations>): void {
    count(OPERATION_METRICS.rotations, tags, 1);
    if (tags.outcome === 'rotated') {
      const { name, help } = OPERATION_METRICS.lastRotation;
      metricMeter.createGauge(name, 'float', 's', help).set(Date.now() / 1000, { client: tags.client });
    }
  },
  ncclAttempt(tags: Tags<typeof OPERATION_METRICS.ncclAttempts>): void {
    count(OPERATION_METRICS.ncclAttempts, tags, 1);
  },
  runStarted(): void {
    count(OPERATION_METRICS.runsStarted, {}, 1);
  },
};

function seconds(metric: Metric, tags: Record<string, string>, startedMs: number): void {
  metricMeter.createHistogram(metric.name, 'float', 's', metric.help).record((Date.now() - startedMs) / 1000, tags);
}

function count(metric: Metric, tags: Record<string, string>, value: number): void {
  metricMeter.createCounter(metric.name, undefined, metric.help).add(value, tags);
}
