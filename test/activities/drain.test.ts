import { clusterForActivities, eventually } from '../helpers/kube.js';
import { activityRunner } from '../helpers/temporal.js';

const run = activityRunner();
const k8s = clusterForActivities('drain');

test('a pass evicts plain pods, ignores DaemonSet pods, and reports PDB refusals (429) per pod', async () => {
  const node = await k8s.cluster.addNode();
  const ns = k8s.cluster.namespace;
  await k8s.cluster.addPod(node, 'web-1', { app: 'web' });
  await k8s.cluster.addPod(node, 'db-1', { app: 'db' });
  const daemonPod = await k8s.cluster.addDaemonSet(node, 'sriov-plugin');
  await k8s.cluster.addBlockingPdb('db');

  const plan = await run(k8s.activities.planNodeDrain, { node });
  expect(plan.evict).toEqual([`${ns}/db-1`, `${ns}/web-1`]);
  expect(plan.ignored).toEqual([{ pod: `${ns}/${daemonPod}`, reason: 'DaemonSet' }]);

  const pass = await run(k8s.activities.drainPass, { node });
  expect(pass.drained).toBe(false);
  expect(pass.evicted).toEqual([`${ns}/web-1`]);
  expect(pass.blocked).toHaveLength(1);
  expect(pass.blocked[0]!.pod).toBe(`${ns}/db-1`);
  expect(pass.blocked[0]!.reason).toMatch(/HTTP 429: .*disruption budget/);
  expect(pass.failed).toEqual([]);

  // KWOK deletes the evicted pod; the PDB-guarded one stays.
  await eventually(async () => (await k8s.cluster.podNames(node)).join() === ['db-1', daemonPod].sort().join(), 'web-1 gone');

  await k8s.cluster.kube.policy.deleteNamespacedPodDisruptionBudget({ name: 'db', namespace: ns });
  const second = await run(k8s.activities.drainPass, { node });
  expect(second.evicted).toEqual([`${ns}/db-1`]);
  await eventually(async () => (await k8s.cluster.podNames(node)).join() === daemonPod, 'db-1 gone');
  const last = await run(k8s.activities.drainPass, { node });
  expect(last).toMatchObject({ drained: true, evicted: [], blocked: [] });
});
