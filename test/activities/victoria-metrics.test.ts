import { createMetricsActivities } from '../../src/activities/metrics/victoria-metrics.js';
import { testEnv } from '../helpers/env.js';
import { uniqueName } from '../helpers/kube.js';
import { activityRunner } from '../helpers/temporal.js';

// Against the real VictoriaMetrics global setup started; each test uses its own label values.
const run = activityRunner();
const metrics = () => createMetricsActivities({ url: testEnv('victoriaMetrics') });

test('pushed samples are stored (read back), and the newest one is the stored baseline', async () => {
  const labels = { name: uniqueName('bench'), collective: 'all_reduce_perf' };
  const now = Date.now();
  await run(metrics().pushSamples, { samples: [{ name: 'nccl_busbw_peak_gbps', labels, value: 21.5 }], timestampMs: now - 60_000 });
  const pushed = await run(metrics().pushSamples, {
    samples: [
      { name: 'nccl_busbw_peak_gbps', labels, value: 22.75 },
      { name: 'nccl_busbw_avg_gbps', labels, value: 9.5 },
    ],
    timestampMs: now,
  });
  expect(pushed).toEqual({ pushed: 2 });
  const latest = await run(metrics().readLatestSample, { name: 'nccl_busbw_peak_gbps', labels, lookbackSeconds: 3600 });
  expect(latest.value).toBe(22.75);
  const none = await run(metrics().readLatestSample, { name: 'nccl_busbw_peak_gbps', labels: { name: uniqueName('none') }, lookbackSeconds: 3600 });
  expect(none.value).toBeUndefined();
});

test('a sample VictoriaMetrics drops (though it answers 204) fails the push', async () => {
  // Older than the retention period (1 month by default): dropped with only a line in the server's log.
  const yearAgo = Date.now() - 400 * 24 * 3600 * 1000;
  const samples = [{ name: 'nccl_busbw_peak_gbps', labels: { name: uniqueName('old') }, value: 1 }];
  await expect(run(metrics().pushSamples, { samples, timestampMs: yearAgo })).rejects.toThrow(/did not store nccl_busbw_peak_gbps/);
});

test('a worker without VictoriaMetrics fails for good, saying so', async () => {
  await expect(run(createMetricsActivities(undefined).pushSamples, { samples: [], timestampMs: 0 })).rejects.toThrow(/no VICTORIA_METRICS_URL/);
});
