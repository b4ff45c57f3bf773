import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../failures.js';

/** Where NCCL results go: VictoriaMetrics' single-node API (vmsingle), so Grafana can chart them. */
export interface MetricsDeps {
  /** e.g. http://vmsingle-victoria-metrics.observability.svc:8429 */
  url: string;
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PushSamplesInput {
  samples: Sample[];
  /** One timestamp for the whole result, so a retried push writes the same points. */
  timestampMs: number;
}

export interface PushSamplesResult {
  pushed: number;
}

export interface ReadLatestInput {
  name: string;
  labels: Record<string, string>;
  /** How far back to look. */
  lookbackSeconds: number;
}

export interface ReadLatestResult {
  /** The newest value of the series in the lookback window, if any. */
  value?: number;
}

const escapeLabel = (value: string) => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const selector = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
    .join(',')}}`;

/** Prometheus text exposition lines with explicit timestamps: what /api/v1/import/prometheus takes. */
export function exposition(samples: Sample[], timestampMs: number): string {
  return samples.map((s) => `${selector(s.name, s.labels)} ${s.value} ${timestampMs}\n`).join('');
}

async function call(url: string, init?: RequestInit): Promise<Response> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  if (!response.ok) throw new Error(`${init?.method ?? 'GET'} ${new URL(url).pathname}: HTTP ${response.status} ${await response.text()}`);
  return response;
}

export function createMetricsActivities(deps: MetricsDeps | undefined) {
  const base = () => {
    if (!deps) throw ApplicationFailure.nonRetryable('no VICTORIA_METRICS_URL configured on this worker', FailureType.MetricsNotConfigured);
    return deps.url.replace(/\/$/, '');
  };
  return {
    /**
     * Imports samples, then reads every series back: the import API answers 204 even for lines it drops,
     * so only the read-back proves the points are stored. Freshly imported rows are readable after a
     * flush (/internal/force_flush, which vmsingle has; otherwise within a second or two, and a retry
     * of this activity reads again).
     */
    async pushSamples({ samples, timestampMs }: PushSamplesInput): Promise<PushSamplesResult> {
      const url = base();
      await call(`${url}/api/v1/import/prometheus`, { method: 'POST', body: exposition(samples, timestampMs) });
      await call(`${url}/internal/force_flush`).catch(() => undefined);
      const missing: string[] = [];
      for (const sample of samples) {
        const params = new URLSearchParams({
          'match[]': selector(sample.name, sample.labels),
          start: String(timestampMs / 1000),
          end: String(timestampMs / 1000),
        });
        const text = await (await call(`${url}/api/v1/export?${params}`)).text();
        const stored = text
          .split('\n')
          .filter(Boolean)
          .some((line) => {
            const series = JSON.parse(line) as { timestamps: number[] };
            return series.timestamps.includes(timestampMs);
          });
        if (!stored) missing.push(sample.name);
      }
      if (missing.length > 0) throw new Error(`VictoriaMetrics did not store ${missing.join(', ')} (see its log for the rejected lines)`);
      return { pushed: samples.length };
    },

    /** The newest value of one series within the lookback (a stored baseline), via the export API. */
    async readLatestSample({ name, labels, lookbackSeconds }: ReadLatestInput): Promise<ReadLatestResult> {
      // Whole seconds: an end defaulting to "now" would cut off a sample pushed in this very second.
      const end = Math.ceil(Date.now() / 1000) + 1;
      const params = new URLSearchParams({ 'match[]': selector(name, labels), start: String(end - lookbackSeconds), end: String(end) });
      const text = await (await call(`${base()}/api/v1/export?${params}`)).text();
      let newest: { t: number; v: number } | undefined;
      for (const line of text.split('\n').filter(Boolean)) {
        const series = JSON.parse(line) as { values: number[]; timestamps: number[] };
        series.timestamps.forEach((t, i) => {
          if (!newest || t > newest.t) newest = { t, v: series.values[i]! };
        });
      }
      return { value: newest?.v };
    },
  };
}
