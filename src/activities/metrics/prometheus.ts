import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../failures.js';

export interface PromQueryInput {
  /** A Prometheus-compatible API root, e.g. VictoriaMetrics' http://vmsingle.vmks.svc:8429. */
  url: string;
  query: string;
}

interface QueryReply {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value?: [number, string] }[] };
}

const TIMEOUT_MS = 30_000;

const describeSeries = (metric: Record<string, string>, value: string) => {
  const labels = Object.entries(metric)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  return `{${labels}} = ${value}`;
};

export function createPrometheusActivities() {
  return {
    /**
     * Runs an instant query that a healthy cluster answers with nothing or zeros (firing alerts, failing
     * probes); returns each non-zero series. Fails closed: an error or an unreadable reply is a violation,
     * because a gate that cannot see must not let the next node go.
     */
    async promQueryViolations({ url, query }: PromQueryInput): Promise<string[]> {
      const endpoint = `${url.replace(/\/$/, '')}/api/v1/query?${new URLSearchParams({ query })}`;
      let reply: QueryReply;
      try {
        const response = await fetch(endpoint, { signal: AbortSignal.timeout(TIMEOUT_MS) });
        reply = (await response.json()) as QueryReply;
      } catch (error) {
        return [`cannot evaluate ${query} at ${url}: ${(error as Error).message}`];
      }
      if (reply.status !== 'success' || !reply.data) {
        if (/parse|syntax|unknown function/i.test(reply.error ?? ''))
          throw ApplicationFailure.nonRetryable(`bad PromQL ${query}: ${reply.error}`, FailureType.BadQuery);
        return [`${query} failed: ${reply.error ?? 'no data'}`];
      }
      if (reply.data.resultType === 'scalar' || reply.data.resultType === 'string') {
        const [, value] = reply.data.result as unknown as [number, string];
        return Number(value) === 0 ? [] : [`${query} = ${value}`];
      }
      return reply.data.result
        .filter((series) => Number(series.value?.[1] ?? 'NaN') !== 0)
        .map((series) => describeSeries(series.metric, series.value?.[1] ?? 'no value'));
    },
  };
}
