import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { layerManifest } from '../../lab/flux-repo.js';
import type { FluxRepoSpec } from '../../lab/flux-repo.js';
import { TEST_GROUP_LABEL } from '../../lab/gitops.js';
import { createActivities } from '../../src/activities/index.js';
import { startFluxRepoWorld } from '../helpers/flux.js';
import { eventually, TestCluster } from '../helpers/kube.js';
import { activityRunner } from '../helpers/temporal.js';
import { FailureType } from '../../src/failures.js';

// The Flux-facing activities against the run's real source- and kustomize-controller (test/helpers/global-setup.js).
const run = activityRunner();
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const clusters: TestCluster[] = [];
afterAll(() => Promise.all(clusters.map((cluster) => cluster.close())));

async function world(spec: Omit<FluxRepoSpec, 'nodeSelector'>, options: { root?: boolean } = {}) {
  const cluster = await TestCluster.create('flux');
  clusters.push(cluster);
  const nodeSelector = { [TEST_GROUP_LABEL]: cluster.namespace };
  const flux = await startFluxRepoWorld(cluster.kube, cluster.namespace, { ...spec, nodeSelector }, options);
  const activities = createActivities({ kube: cluster.kube });
  const ref = (name: string) => ({ namespace: cluster.namespace, name });
  const ready = async (name: string) => {
    const k = (await cluster.kube.custom.getNamespacedCustomObject({
      group: 'kustomize.toolkit.fluxcd.io',
      version: 'v1',
      namespace: cluster.namespace,
      plural: 'kustomizations',
      name,
    })) as {
      status?: { conditions?: { type: string; status: string }[] };
    };
    return k.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  };
  return { cluster, flux, activities, ref, ready, nodeSelector };
}

test('a reconcile waits for the answer to its own request, not a Ready left over from the last revision', async () => {
  const { flux, activities, ref, ready, cluster } = await world({ graph: [{ name: 'app', dependsOn: [] }], content: 'configmap' });
  await eventually(() => ready('app'), 'Flux to apply the first revision on its own');
  const commit = await flux.commitLayer(
    'app',
    layerManifest('app', cluster.namespace, { graph: [], content: 'configmap' }).replace('layer: app', 'layer: app-v2'),
    'app v2',
  );
  const result = await run(activities.reconcileKustomization, { ...ref('app'), timeoutSeconds: 60, resume: false, withSource: true });
  expect(result.revision).toBe(`master@sha1:${commit}`);
  expect(result.message).toBe(`Applied revision: master@sha1:${commit}`);
  expect(result.fluxDurationMs).toBeGreaterThan(0);
  const configMap = await cluster.kube.core.readNamespacedConfigMap({ namespace: cluster.namespace, name: 'layer-app' });
  expect(configMap.data).toEqual({ layer: 'app-v2' });
});

test('DependencyNotReady is waited out and is not a failure', async () => {
  // Deployments under wait: true, whose pods need a node this test adds once Flux holds api back.
  const { activities, ref, cluster, nodeSelector } = await world({
    graph: [
      { name: 'db', dependsOn: [] },
      { name: 'api', dependsOn: ['db'] },
    ],
    content: 'deployment',
    timeout: '60s',
  });
  const api = run(activities.reconcileKustomization, { ...ref('api'), timeoutSeconds: 120, resume: false });
  await eventually(
    async () => {
      const k = await cluster.kube.custom.getNamespacedCustomObject({
        group: 'kustomize.toolkit.fluxcd.io',
        version: 'v1',
        namespace: cluster.namespace,
        plural: 'kustomizations',
        name: 'api',
      });
      return (k as { status?: { conditions?: { reason?: string }[] } }).status?.conditions?.some((c) => c.reason === 'DependencyNotReady');
    },
    'Flux to hold api back',
    30_000,
  );
  expect(await run(activities.failingKustomizations, { namespace: cluster.namespace })).toEqual([]);
  await cluster.addNode(undefined, nodeSelector);
  const done = await api;
  expect(done.message).toMatch(/^Applied revision: master@sha1:/);
});

test("a health check that times out fails the reconcile with Flux's own message", async () => {
  // No node ever matches the Deployment's selector, so its pod never runs. kustomize-controller waits at
  // least 30 s for health, once for its own first reconcile and once more for our request.
  const { activities, ref, cluster } = await world({ graph: [{ name: 'stuck', dependsOn: [] }], content: 'deployment', timeout: '30s' });
  const stuck = await run(activities.reconcileKustomization, { ...ref('stuck'), timeoutSeconds: 100, resume: false }).catch((error: Error) => error);
  expect(stuck).toBeInstanceOf(Error);
  expect((stuck as Error).message).toMatch(/\/stuck: HealthCheckFailed: .*timeout waiting for.*Deployment\/.*layer-stuck/);
  expect(await run(activities.failingKustomizations, { namespace: cluster.namespace })).toEqual([expect.stringContaining('/stuck: HealthCheckFailed')]);
}, 150_000);

test('a suspended Kustomization is refused with a clear failure, and reconciled when asked to resume it', async () => {
  const { activities, ref, cluster, ready } = await world({ graph: [{ name: 'paused', dependsOn: [] }], content: 'configmap' });
  await eventually(() => ready('paused'), 'Flux to apply it');
  await cluster.kube.custom.patchNamespacedCustomObject(
    {
      group: 'kustomize.toolkit.fluxcd.io',
      version: 'v1',
      namespace: cluster.namespace,
      plural: 'kustomizations',
      name: 'paused',
      body: { spec: { suspend: true } },
    },
    mergePatch,
  );
  await expect(run(activities.reconcileKustomization, { ...ref('paused'), timeoutSeconds: 30, resume: false })).rejects.toMatchObject({
    type: FailureType.KustomizationSuspended,
  });
  await expect(run(activities.requestReconcile, ref('paused'))).rejects.toMatchObject({ type: FailureType.KustomizationSuspended });
  const resumed = await run(activities.reconcileKustomization, { ...ref('paused'), timeoutSeconds: 60, resume: true });
  expect(resumed.message).toMatch(/^Applied revision:/);
});

test('requestReconcile fetches the source too; waitForAppliedRevision wants the commit in branch@sha1 form', async () => {
  const { flux, activities, ref, cluster, ready } = await world({ graph: [{ name: 'cfg', dependsOn: [] }], content: 'configmap' });
  await eventually(() => ready('cfg'), 'Flux to apply the first revision');
  const commit = await flux.commitLayer(
    'cfg',
    layerManifest('cfg', cluster.namespace, { graph: [], content: 'configmap' }).replace('layer: cfg', 'layer: cfg-v2'),
    'cfg v2',
  );
  await run(activities.requestReconcile, ref('cfg'));
  const applied = await run(activities.waitForAppliedRevision, { ...ref('cfg'), commit, timeoutSeconds: 60 });
  expect(applied.revision).toBe(`master@sha1:${commit}`);
});

test('a parent Kustomization reports the children it applied; the live graph puts each after its parent', async () => {
  const { activities, ref, cluster } = await world(
    {
      graph: [
        { name: 'one', dependsOn: [] },
        { name: 'two', dependsOn: ['one'] },
      ],
      content: 'configmap',
    },
    { root: true },
  );
  const root = await run(activities.reconcileKustomization, { ...ref('flux-system'), timeoutSeconds: 60, resume: false });
  expect(root.children.sort()).toEqual([`${cluster.namespace}/one`, `${cluster.namespace}/two`]);
  const graph = await run(activities.readFluxGraph, { namespace: cluster.namespace });
  expect(graph.nodes.find((n) => n.name === 'one')?.createdBy).toBe(`${cluster.namespace}/flux-system`);
  expect(graph.levels.map((level) => level.map((id) => id.split('/')[1]))).toEqual([['flux-system'], ['one'], ['two']]);
});
