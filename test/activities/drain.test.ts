import { createActivities } from '../../src/activities/index.js';
import { eventually, TestCluster } from '../helpers/kube.js';
import { activityRunner } from '../helpers/temporal.js';

const run = activityRunner();
let cluster: TestCluster;
let activities: ReturnType<typeof createActivities>;

beforeAll(async () => {
  cluster = await TestCluster.create('drain');
  activities = createActivities({ kube: cluster.kube });
});
afterAll(() => cluster.close());

test('a pass evicts plain pods, ignores DaemonSet pods, and reports PDB refusals (429) per pod', async () => {
  const node = await cluster.addNode();
  const ns = cluster.namespace;
  await cluster.addPod(node, 'web-1', { app: 'web' });
  await cluster.addPod(node, 'db-1', { app: 'db' });
  const daemonPod = await cluster.addDaemonSet(node, 'sriov-plugin');
  await cluster.addBlockingPdb('db');

  const plan = await run(activities.planNodeDrain, { node });
  expect(plan.evict).toEqual([`${ns}/db-1`, `${ns}/web-1`]);
  expect(plan.ignored).toEqual([{ pod: `${ns}/${daemonPod}`, reason: 'DaemonSet' }]);

  const pass = await run(activities.drainPass, { node });
  expect(pass.drained).toBe(false);
  expect(pass.evicted).toEqual([`${ns}/web-1`]);
  expect(pass.blocked).toHaveLength(1);
  expect(pass.blocked[0]!.pod).toBe(`${ns}/db-1`);
  expect(pass.blocked[0]!.reason).toMatch(/HTTP 429: .*disruption budget/);
  expect(pass.failed).toEqual([]);

  // KWOK deletes the evicted pod; the PDB-guarded one stays.
  await eventually(async () => (await cluster.podNames(node)).join() === ['db-1', daemonPod].sort().join(), 'web-1 gone');

  await cluster.kube.policy.deleteNamespacedPodDisruptionBudget({ name: 'db', namespace: ns });
  const second = await run(activities.drainPass, { node });
  expect(second.evicted).toEqual([`${ns}/db-1`]);
  await eventually(async () => (await cluster.podNames(node)).join() === daemonPod, 'db-1 gone');
  const last = await run(activities.drainPass, { node });
  expect(last).toMatchObject({ drained: true, evicted: [], blocked: [] });
});
