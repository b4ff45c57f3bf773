import { createPrometheusActivities } from '../../src/activities/metrics/prometheus.js';
import { createMetricsActivities } from '../../src/activities/metrics/victoria-metrics.js';
import { freePort } from '../../lab/process.js';
import { testEnv } from '../helpers/env.js';
import { eventually, uniqueName } from '../helpers/kube.js';
import { activityRunner } from '../helpers/temporal.js';
import { FailureType } from '../../src/failures.js';

// The health gate's PromQL check against the real VictoriaMetrics global setup started.
const run = activityRunner();
const { promQueryViolations } = createPrometheusActivities();
const url = () => testEnv('victoriaMetrics');

test('a query with non-zero series is a violation naming them; zeros and no series pass', async () => {
  const cluster = uniqueName('gate');
  await run(createMetricsActivities({ url: url() }).pushSamples, {
    timestampMs: Date.now(),
    samples: [
      { name: 'cluster_ops_test_alerts_firing', labels: { cluster, alertname: 'NodeNotReady' }, value: 2 },
      { name: 'cluster_ops_test_alerts_firing', labels: { cluster, alertname: 'KubeletDown' }, value: 0 },
    ],
  });
  // A new series reaches VictoriaMetrics' query index a second or two after the flush.
  const violations = await eventually(async () => {
    const found = await run(promQueryViolations, { url: url(), query: `cluster_ops_test_alerts_firing{cluster="${cluster}"}` });
    return found.length > 0 && found;
  }, 'the pushed series in query results');
  expect(violations).toEqual([expect.stringMatching(/alertname="NodeNotReady".* = 2$/)]);
  expect(await run(promQueryViolations, { url: url(), query: `cluster_ops_test_alerts_firing{cluster="${cluster}",alertname="KubeletDown"}` })).toEqual([]);
  expect(await run(promQueryViolations, { url: url(), query: `cluster_ops_test_alerts_firing{cluster="${uniqueName('none')}"}` })).toEqual([]);
  expect(await run(promQueryViolations, { url: url(), query: 'vector(0)' })).toEqual([]);
});

test('the gate fails closed: an unreachable server is a violation, a malformed query fails for good', async () => {
  const nobody = `http://127.0.0.1:${await freePort()}`;
  expect(await run(promQueryViolations, { url: nobody, query: 'up' })).toEqual([expect.stringContaining(`cannot evaluate up at ${nobody}`)]);
  await expect(run(promQueryViolations, { url: url(), query: 'sum(' })).rejects.toMatchObject({ type: FailureType.BadQuery, nonRetryable: true });
});
