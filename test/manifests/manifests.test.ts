import { AuthorizationV1Api } from '@kubernetes/client-node';
import type { V1Deployment } from '@kubernetes/client-node';
import { createActivities } from '../../src/activities/index.js';
import { kubeClients } from '../../src/activities/kube/clients.js';
import { DrainPodPolicyInput } from '../../src/schemas/drain-node.js';
import { HookInput } from '../../src/schemas/rolling.js';
import { NcclJobInput } from '../../src/schemas/nccl-job.js';
import { startFluxRepoWorld } from '../helpers/flux.js';
import { TestCluster } from '../helpers/kube.js';
import { kubectl, OIDC_NAMESPACES, RBAC_KINDS, renderManifests, serviceAccountConfig } from '../helpers/manifests.js';
import type { ManifestObject } from '../helpers/manifests.js';
import { activityRunner } from '../helpers/temporal.js';

let documents: ManifestObject[];
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.create('manifests');
  documents = await renderManifests();
}, 120_000);
afterAll(() => cluster.close());

test('the base renders to the expected objects, in temporal-system but for the NCCL jobs, the OIDC rotation bindings and the Grafana dashboard', () => {
  expect(documents.map((d) => `${d.kind}/${d.metadata.namespace ?? ''}/${d.metadata.name}`).sort()).toEqual(
    [
      'ClusterRole//cluster-ops',
      'ClusterRole//cluster-ops-oidc-rotation',
      'ClusterRoleBinding//cluster-ops',
      'ConfigMap/vmks/cluster-ops-dashboard',
      'Deployment/temporal-system/cluster-ops-worker',
      'ExternalSecret/temporal-system/cluster-ops-github',
      'ExternalSecret/temporal-system/cluster-ops-oidc-rotation',
      'ExternalSecret/temporal-system/cluster-ops-temporal-client',
      'Namespace//nccl',
      'Role/nccl/cluster-ops-nccl-jobs',
      'Role/temporal-system/cluster-ops-hooks',
      'Role/temporal-system/cluster-ops-rolling-lock',
      'RoleBinding/nccl/cluster-ops-nccl-jobs',
      'RoleBinding/temporal-system/cluster-ops-hooks',
      'RoleBinding/temporal-system/cluster-ops-rolling-lock',
      ...OIDC_NAMESPACES.map((ns) => `RoleBinding/${ns}/cluster-ops-oidc-rotation`),
      'ServiceAccount/temporal-system/cluster-ops',
      'VMPodScrape/temporal-system/cluster-ops-worker',
    ].sort(),
  );
});

test('the API server accepts every object (server-side dry run against the real CRDs)', async () => {
  const out = await kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], documents.map((doc) => JSON.stringify(doc)).join('\n'));
  expect(out.trim().split('\n')).toHaveLength(documents.length);
  expect(out).toMatch(/externalsecret\.external-secrets\.io\/cluster-ops-temporal-client serverside-applied \(server dry run\)/);
  const flux = await kubectl(['apply', '--server-side', '--dry-run=server', '-f', 'manifests/flux/kustomization.yaml']);
  expect(flux).toMatch(/kustomization\.kustomize\.toolkit\.fluxcd\.io\/cluster-ops serverside-applied \(server dry run\)/);
});

test('the worker runs non-root on a read-only root filesystem, with probes and resources', () => {
  const deployment = documents.find((d) => d.kind === 'Deployment') as unknown as V1Deployment;
  const pod = deployment.spec!.template.spec!;
  const [worker] = pod.containers;
  expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
  expect(worker!.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
  expect(worker!.readinessProbe).toBeDefined();
  expect(worker!.livenessProbe).toBeDefined();
  expect(worker!.resources?.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
  expect(worker!.resources?.limits?.memory).toBeDefined();
});

test('the node activities work as the worker ServiceAccount, and nothing more is allowed', async () => {
  const rbac = documents.filter((d) => d.kind === 'Namespace' || RBAC_KINDS.includes(d.kind));
  await kubectl(['apply', '--server-side', '-f', '-'], rbac.map((doc) => JSON.stringify(doc)).join('\n'));
  const asWorker = await serviceAccountConfig(cluster, 'temporal-system', 'cluster-ops');
  const worker = kubeClients(asWorker);
  const activities = createActivities({ kube: worker });
  const run = activityRunner();

  const node = await cluster.addNode();
  await cluster.addPod(node, 'app');
  const daemonPod = await cluster.addDaemonSet(node, 'agent');
  const finishedPod = await cluster.addFinishedJob(node, 'done');
  await run(activities.cordonNode, { node, owner: 'rbac-test' });
  // The drain reads the DaemonSet (only a live one's pod is skipped), evicts the app, deletes the finished pod.
  const policy = DrainPodPolicyInput.parse({});
  expect(await run(activities.planNodeDrain, { node, policy })).toMatchObject({
    evict: [{ pod: `${cluster.namespace}/app` }],
    delete: [{ pod: `${cluster.namespace}/${finishedPod}` }],
    ignored: [{ pod: `${cluster.namespace}/${daemonPod}`, reason: 'DaemonSet' }],
  });
  expect(await run(activities.drainPass, { node, policy })).toMatchObject({
    evicted: [`${cluster.namespace}/app`],
    deleted: [`${cluster.namespace}/${finishedPod}`],
    failed: [],
  });
  await run(activities.waitForNode, { node, timeoutSeconds: 10, condition: { type: 'Ready', status: 'True' } });
  expect(await run(activities.uncordonNode, { node, owner: 'rbac-test' })).toMatchObject({ uncordoned: true });
  // Rolling operations: a hook Job in temporal-system, the node's identity, the Flux health gate.
  const hook = HookInput.parse({ job: { spec: { template: { spec: { containers: [{ name: 'check', image: 'registry.invalid/check:1' }] } } } } });
  expect(await run(activities.runHookJob, { hook, point: 'beforeDrain', node, name: `rbac-hook-${node}`, owner: 'rbac-test' })).toMatchObject({
    job: `temporal-system/rbac-hook-${node}`,
  });
  expect((await run(activities.nodeIdentity, { node })).uid).not.toBe('');
  expect(await run(activities.failingKustomizations, { namespace: cluster.namespace })).toEqual([]);
  // Flux, as sriovRollout drives it: fetch the source, reconcile, wait for the revision (real controllers).
  const flux = await startFluxRepoWorld(cluster.kube, cluster.namespace, { graph: [{ name: 'rbac', dependsOn: [] }], content: 'configmap' });
  await run(activities.requestReconcile, { namespace: cluster.namespace, name: 'rbac' });
  expect(await run(activities.waitForAppliedRevision, { namespace: cluster.namespace, name: 'rbac', commit: flux.commit, timeoutSeconds: 60 })).toMatchObject({
    revision: `master@sha1:${flux.commit}`,
  });
  // Input checks: every kind of object a run's input names, looked up before the run changes anything.
  const targets = [
    { field: 'input.node', kind: 'Node' as const, name: node },
    { field: 'input.namespace', kind: 'Namespace' as const, name: cluster.namespace },
    { field: 'input.daemonSet', kind: 'DaemonSet' as const, namespace: cluster.namespace, name: 'agent' },
    { field: 'input.kustomization', kind: 'Kustomization' as const, namespace: cluster.namespace, name: 'rbac' },
  ];
  expect(await run(activities.checkInputTargets, { targets })).toEqual({ checked: targets.length });

  // The rolling lock: its Lease in temporal-system created, freed, and taken again from free.
  const lock = { cluster: node, holder: 'rbac-test', runId: 'run-1' };
  const leaseName = `cluster-ops-rolling-${node}`;
  const lease = `temporal-system/${leaseName}`;
  expect(await run(activities.acquireRollingLock, { ...lock, operation: 'nodeMaintenance' })).toEqual({ acquired: true, lease });
  expect(await run(activities.releaseRollingLock, lock)).toEqual({ released: true });
  expect(await run(activities.acquireRollingLock, { ...lock, runId: 'run-2', operation: 'nodeMaintenance' })).toEqual({ acquired: true, lease });
  await expect(worker.coordination.deleteNamespacedLease({ name: leaseName, namespace: 'temporal-system' })).rejects.toMatchObject({ code: 403 });
  await cluster.kube.coordination.deleteNamespacedLease({ name: leaseName, namespace: 'temporal-system' });

  // ncclJob: an attempt's objects (and the checkpoint claim) created and cleaned up in namespace nccl.
  const spec = NcclJobInput.parse({
    name: 'rbac',
    kind: 'training',
    image: 'registry.invalid/t:1',
    nodes: [node, 'elsewhere'],
    training: { command: ['t.py'], checkpointClaim: 'rbac-checkpoints' },
  });
  expect(await run(activities.createJobAttempt, { spec, attempt: 1 })).toEqual({ job: 'rbac-a1' });
  expect((await run(activities.cleanupJob, { ref: spec, timeoutSeconds: 60 })).deleted).toEqual(['Job/rbac-a1', 'Service/rbac-a1']);
  await expect(worker.batch.createNamespacedJob({ namespace: cluster.namespace, body: { metadata: { name: 'x' } } })).rejects.toMatchObject({ code: 403 });

  await expect(worker.core.deleteNode({ name: node })).rejects.toMatchObject({ code: 403 });
  await expect(worker.core.listSecretForAllNamespaces()).rejects.toMatchObject({ code: 403 });
  const can = async (namespace: string, verb: string, resource: string, group = '') =>
    (
      await cluster.kube.config.makeApiClient(AuthorizationV1Api).createSubjectAccessReview({
        body: { spec: { user: 'system:serviceaccount:temporal-system:cluster-ops', resourceAttributes: { namespace, verb, resource, group } } },
      })
    ).status?.allowed;
  // Pods: deleted one by one anywhere (finished pods, the SR-IOV plugin restart), never changed or created
  // outside the NCCL namespace, never deleted wholesale.
  expect(await can('kube-system', 'delete', 'pods')).toBe(true);
  expect(await can(cluster.namespace, 'deletecollection', 'pods')).toBe(false);
  expect(await can(cluster.namespace, 'patch', 'pods')).toBe(false);
  expect(await can(cluster.namespace, 'create', 'pods')).toBe(false);
  // OIDC rotation: Secrets, ExternalSecrets and consumer restarts only in the clients' namespaces.
  expect(await can('vmks', 'get', 'secrets')).toBe(true);
  expect(await can('vmks', 'patch', 'externalsecrets', 'external-secrets.io')).toBe(true);
  expect(await can('vmks', 'watch', 'externalsecrets', 'external-secrets.io')).toBe(true);
  expect(await can('', 'get', 'clustersecretstores', 'external-secrets.io')).toBe(true);
  expect(await can('default', 'list', 'events')).toBe(true);
  expect(await can('rabbitmq', 'patch', 'statefulsets', 'apps')).toBe(true);
  expect(await can(cluster.namespace, 'get', 'secrets')).toBe(false);
  expect(await can('vmks', 'delete', 'secrets')).toBe(false);
  expect(await can(cluster.namespace, 'create', 'leases', 'coordination.k8s.io')).toBe(false);
});
