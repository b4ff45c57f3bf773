import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthorizationV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { infisicalProvider, provisionOidcClient } from '../../lab/oidc.js';
import { ESO_GROUP, ESO_VERSION } from '../../src/activities/eso/external-secrets.js';
import { fingerprint } from '../../src/activities/fingerprint.js';
import { createActivities } from '../../src/activities/index.js';
import { kubeClients } from '../../src/activities/kube/clients.js';
import { ATTEMPT_LABEL, NCCL_JOB_LABEL } from '../../src/activities/nccl/manifests.js';
import { FailureType } from '../../src/failures.js';
import { DrainPodPolicyInput } from '../../src/schemas/drain-node.js';
import { NcclJobInput } from '../../src/schemas/nccl-job.js';
import { HookInput } from '../../src/schemas/rolling.js';
import { WILLINGHAM_NODES } from '../../lab/kube/nodes.js';
import { SimulatedNcclRunner } from '../../lab/sim/nccl-runner.js';
import { startFluxRepoWorld } from '../helpers/flux.js';
import { eventually, KWOK_FAIL_LABEL, TestCluster, uniqueName } from '../helpers/kube.js';
import { kubectl, renderManifests, serviceAccountConfig } from '../helpers/manifests.js';
import { SPARK_RUN_LOG } from '../helpers/nccl.js';
import type { ManifestObject } from '../helpers/manifests.js';
import { startOidcTestBed, TEST_PROJECT } from '../helpers/oidc.js';
import type { OidcTestBed } from '../helpers/oidc.js';
import { activityRunner } from '../helpers/temporal.js';

/**
 * Least privilege shown by breaking it (issue #15): every rule of manifests/rbac.yaml and manifests/nccl.yaml
 * is taken away in turn from a ServiceAccount bound exactly as the worker's is, and the activities run as that
 * account. Exactly the probes that declare the rule must fail, each with the API server's refusal naming one
 * of the rule's verbs and resources; every other probe must still pass. The roles are copies under this
 * file's own names, so other test files that use the real `cluster-ops` account never see a rule missing.
 */

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}
interface RoleObject extends ManifestObject {
  rules: Rule[];
}
interface BindingObject extends ManifestObject {
  roleRef: { kind: string; name: string };
  subjects: { kind: string; name: string; namespace?: string }[];
}

/** One rule of one role, named `<role>: <resources>` as the probes declare what they need. */
interface RuleUnderTest {
  key: string;
  role: RoleObject;
  index: number;
  /** Where the account holds the rule: the Role's namespace, a RoleBinding's, or cluster-wide (''). */
  namespace: string;
}

interface Probe {
  name: string;
  needs: string[];
  /** Set-up as the admin, before the rule goes (fresh objects for a probe that changes them). */
  prepare?: (round: number) => Promise<void>;
  run: (round: number) => Promise<unknown>;
}

const SA_NAMESPACE = 'temporal-system';
const suffix = randomBytes(3).toString('hex');
const account = `cluster-ops-rbac-${suffix}`;
const copyName = (name: string) => `${name}-${suffix}`;
const run = activityRunner();

let cluster: TestCluster;
/** Plays namespace nccl's pods: serves their logs, backs claims with directories, runs the checkpoint lister. */
let ncclRunner: SimulatedNcclRunner;
const ncclRunnerDir = mkdtempSync(join(tmpdir(), 'rbac-nccl-'));
let bed: OidcTestBed;
let roles: RoleObject[];
let bindings: BindingObject[];
let probes: Probe[];
/** Cluster-scoped, so the namespace's removal leaves them: ESO would go on checking them. */
const clusterStores: string[] = [];
/** The NCCL namespace is shared with other test files: only these are this file's. */
const ncclObjects: string[] = [];

const apply = (objects: object[]) =>
  kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager', `rbac-${suffix}`, '-f', '-'], objects.map((o) => JSON.stringify(o)).join('\n'));

async function allowed(namespace: string, rule: Rule): Promise<boolean> {
  const [resource, subresource] = rule.resources[0]!.split('/');
  const review = await cluster.kube.config.makeApiClient(AuthorizationV1Api).createSubjectAccessReview({
    body: {
      spec: {
        user: `system:serviceaccount:${SA_NAMESPACE}:${account}`,
        resourceAttributes: { namespace, verb: rule.verbs[0], group: rule.apiGroups[0], resource, subresource },
      },
    },
  });
  return review.status?.allowed === true;
}

/** The RBAC authorizer follows role changes through an informer: wait until it answers as `want`. */
const authorizerSays = (target: RuleUnderTest, want: boolean) =>
  eventually(async () => (await allowed(target.namespace, target.role.rules[target.index]!)) === want || undefined, `${target.key} allowed=${want}`);

/** What the API server says when it refuses one of the rule's verbs on one of its resources (or a watch of it). */
function refusalOf(rule: Rule): RegExp {
  const verbs = rule.verbs.join('|');
  const resources = rule.resources.map((r) => r.replace('/', '\\/')).join('|');
  return new RegExp(`cannot (${verbs}) resource "(${resources})"|refused to watch \\S*/(${resources})\\b`);
}

beforeAll(async () => {
  cluster = await TestCluster.create('rbac');
  const documents = await renderManifests();
  roles = documents.filter((d): d is RoleObject => d.kind === 'Role' || d.kind === 'ClusterRole');
  bindings = documents.filter((d): d is BindingObject => d.kind === 'RoleBinding' || d.kind === 'ClusterRoleBinding');
  const namespaces = documents.filter((d) => d.kind === 'Namespace');
  // The OIDC rotation's ClusterRole is bound per client namespace; this file's ExternalSecrets live in its own.
  const oidcBinding = bindings.find((b) => b.roleRef.name === 'cluster-ops-oidc-rotation')!;
  const copies = [
    ...namespaces,
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: account, namespace: SA_NAMESPACE } },
    ...roles.map((role) => ({ ...role, metadata: { ...role.metadata, name: copyName(role.metadata.name) } })),
    ...[...bindings, { ...oidcBinding, metadata: { ...oidcBinding.metadata, namespace: cluster.namespace } }].map((binding) => ({
      ...binding,
      metadata: { ...binding.metadata, name: copyName(binding.metadata.name) },
      roleRef: { ...binding.roleRef, name: copyName(binding.roleRef.name) },
      subjects: [{ kind: 'ServiceAccount', name: account, namespace: SA_NAMESPACE }],
    })),
  ];
  await apply(copies);
  const worker = kubeClients(await serviceAccountConfig(cluster, SA_NAMESPACE, account));
  const activities = createActivities({ kube: worker, leaseNamespace: SA_NAMESPACE });
  probes = await setUpProbes(activities);
}, 240_000);

afterAll(async () => {
  const cleanUp = async (kind: string, name: string, namespace?: string) =>
    kubectl(['delete', kind, name, '--ignore-not-found', '--wait=false', ...(namespace ? ['-n', namespace] : [])]);
  for (const role of roles ?? []) await cleanUp(role.kind, copyName(role.metadata.name), role.metadata.namespace);
  for (const binding of bindings ?? []) await cleanUp(binding.kind, copyName(binding.metadata.name), binding.metadata.namespace);
  await cleanUp('serviceaccount', account, SA_NAMESPACE);
  if (ncclObjects.length > 0) await kubectl(['delete', '-n', 'nccl', '--ignore-not-found', '--wait=false', ...ncclObjects]);
  for (const store of clusterStores) await cleanUp('clustersecretstores.external-secrets.io', store);
  await bed?.stop();
  await ncclRunner?.stop();
  await cluster?.close();
  rmSync(ncclRunnerDir, { recursive: true, force: true });
}, 120_000);

async function setUpProbes(activities: ReturnType<typeof createActivities>): Promise<Probe[]> {
  const { namespace } = cluster;
  // Nodes and pods: a node with an app pod, a live DaemonSet's pod and a finished Job's pod to plan a drain of.
  const node = await cluster.addNode(WILLINGHAM_NODES[0]!);
  await cluster.addPod(node, 'app');
  await cluster.addDaemonSet(node, 'agent');
  await cluster.addFinishedJob(node, 'done');
  const policy = DrainPodPolicyInput.parse({});
  const drainNodes: string[] = [];

  // Flux, on the run's real controllers.
  const flux = await startFluxRepoWorld(cluster.kube, namespace, { graph: [{ name: 'rbac', dependsOn: [] }], content: 'configmap' });
  const admin = createActivities({ kube: cluster.kube });
  await run(admin.waitForAppliedRevision, { namespace, name: 'rbac', commit: flux.commit, timeoutSeconds: 120 });

  // ESO: an ExternalSecret on a Ready ClusterSecretStore (with a consumer), one on a namespaced SecretStore,
  // one on a ClusterSecretStore ESO cannot log in with.
  bed = await startOidcTestBed(cluster);
  const secret = 'rbac-secret-1';
  const target = await bed.target({ clientId: uniqueName('rbac'), secret }, { consumers: 1 });
  const es = { ...target.externalSecret, secret: target.infisical };
  const nsStoreEs = await externalSecretOnOwnStore('SecretStore', bed.esoIdentity, secret);
  const unreadyEs = await externalSecretOnOwnStore('ClusterSecretStore', { clientId: 'no-such-identity', clientSecret: 'wrong' }, secret);
  await eventually(
    () =>
      run(admin.readExternalSecret, unreadyEs).then(
        () => undefined,
        (error: ApplicationFailure) => error.type === FailureType.SecretStoreNotReady,
      ),
    'ESO to find the store it cannot log in with not Ready',
  );
  await eventually(async () => (await run(admin.readExternalSecret, es)).ready && (await run(admin.readExternalSecret, nsStoreEs)).ready, 'ESO’s first syncs');
  const [consumer] = target.consumers;
  await run(admin.waitForRollout, { ...consumer!, timeoutSeconds: 60 });

  const hook = (labels: Record<string, string> = {}, annotations: Record<string, string> = {}) =>
    HookInput.parse({
      job: { spec: { template: { metadata: { labels, annotations }, spec: { containers: [{ name: 'check', image: 'registry.invalid/check:1' }] } } } },
    });
  const failingHook = hook({ [KWOK_FAIL_LABEL]: 'true' }, { [`${KWOK_FAIL_LABEL}/message`]: 'link down' });

  // NCCL: a benchmark attempt's rank 0 pod whose log KWOK serves (no Job: a watch finds it gone at once).
  ncclRunner = new SimulatedNcclRunner(cluster.kube, 'nccl', ncclRunnerDir);
  const benchmark = `rbac-${suffix}-b`;
  const rank0 = `${benchmark}-a1-0`;
  ncclObjects.push(`pod/${rank0}`);
  await cluster.kube.core.createNamespacedPod({
    namespace: 'nccl',
    body: {
      metadata: { name: rank0, labels: { [NCCL_JOB_LABEL]: benchmark, [ATTEMPT_LABEL]: '1', 'batch.kubernetes.io/job-completion-index': '0' } },
      spec: { nodeName: node, restartPolicy: 'Never', containers: [{ name: 'nccl', image: 'registry.invalid/nccl-tests:1' }] },
    },
  });
  const running = await eventually(async () => {
    const pod = await cluster.kube.core.readNamespacedPod({ namespace: 'nccl', name: rank0 });
    return pod.status?.phase === 'Running' ? pod : undefined;
  }, `${rank0} Running`);
  await ncclRunner.logs.write(running, SPARK_RUN_LOG);
  const ncclSpec = (round: number) =>
    NcclJobInput.parse({
      name: `rbac-${suffix}-${round}`,
      kind: 'training',
      image: 'registry.invalid/t:1',
      nodes: ['rbac-absent-a', 'rbac-absent-b'],
      training: { command: ['t.py'], checkpointClaim: `rbac-${suffix}-${round}` },
    });

  const R = 'cluster-ops';
  const OIDC = 'cluster-ops-oidc-rotation';
  const HOOKS = 'cluster-ops-hooks';
  const NCCL = 'cluster-ops-nccl-jobs';
  const checkpointClaim = (round: number) => `rbac-${suffix}-k${round}`;
  return [
    {
      name: 'cordonNode + uncordonNode',
      needs: [`${R}: nodes`],
      run: async () => {
        await run(activities.cordonNode, { node, owner: `rbac-${suffix}` });
        await run(activities.uncordonNode, { node, owner: `rbac-${suffix}` });
      },
    },
    {
      name: 'waitForNode',
      needs: [`${R}: nodes`],
      run: () => run(activities.waitForNode, { node, timeoutSeconds: 10, condition: { type: 'Ready', status: 'True' } }),
    },
    { name: 'nodeIdentity', needs: [`${R}: nodes`], run: () => run(activities.nodeIdentity, { node }) },
    { name: 'planNodeDrain', needs: [`${R}: pods`, `${R}: daemonsets`], run: () => run(activities.planNodeDrain, { node, policy }) },
    {
      name: 'drainPass',
      needs: [`${R}: nodes`, `${R}: pods`, `${R}: pods/eviction`],
      // A node of its own each round, with a pod to evict and a finished one to delete.
      prepare: async (round) => {
        const fresh = await cluster.addNode(WILLINGHAM_NODES[0]!);
        // Only its own pods (bound by name): the scheduler must not place another probe's pod here, such as
        // the checkpoint lister's, which the drain would refuse as unmanaged.
        await cluster.kube.core.patchNode(
          { name: fresh, body: { spec: { taints: [{ key: 'cluster-ops.wcloud.sh/rbac-drain-probe', effect: 'NoSchedule' }] } } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        await cluster.addPod(fresh, `app-${round}`);
        await cluster.addFinishedJob(fresh, `done-${round}`);
        drainNodes[round] = fresh;
      },
      run: async (round) => {
        const pass = await run(activities.drainPass, { node: drainNodes[round]!, policy });
        if (pass.failed.length > 0) throw new Error(pass.failed.map((f) => f.message).join('; '));
        if (pass.evicted.length !== 1 || pass.deleted.length !== 1) throw new Error(`drained ${JSON.stringify(pass)}`);
      },
    },
    {
      name: 'waitForDaemonPod',
      needs: [`${R}: pods`, `${R}: daemonsets`],
      run: () => run(activities.waitForDaemonPod, { namespace, daemonSet: 'agent', node, timeoutSeconds: 10 }),
    },
    ...(
      [
        ['Node', `${R}: nodes`, { name: node }],
        ['Namespace', `${R}: namespaces`, { name: namespace }],
        ['DaemonSet', `${R}: daemonsets`, { namespace, name: 'agent' }],
        ['Kustomization', `${R}: kustomizations`, { namespace, name: 'rbac' }],
      ] as const
    ).map(([kind, need, ref]) => ({
      name: `checkInputTargets ${kind}`,
      needs: [need],
      run: () => run(activities.checkInputTargets, { targets: [{ field: 'input.target', kind, ...ref }] }),
    })),
    {
      name: 'runHookJob',
      needs: [`${HOOKS}: jobs`],
      run: (round) => run(activities.runHookJob, { hook: hook(), point: 'beforeDrain', node, name: `rbac-${suffix}-ok-${round}`, owner: `rbac-${suffix}` }),
    },
    {
      name: 'runHookJob, failed: log tail',
      needs: [`${HOOKS}: jobs`, `${R}: pods`, `${HOOKS}: pods/log`],
      run: async (round) => {
        const failed = await run(activities.runHookJob, {
          hook: failingHook,
          point: 'beforeDrain',
          node,
          name: `rbac-${suffix}-fail-${round}`,
          owner: 'x',
        }).then(
          () => undefined,
          (error: ApplicationFailure) => error,
        );
        if (failed?.type !== FailureType.HookFailed) throw failed ?? new Error('the failing hook passed');
        if (/log not readable/.test(failed.message)) throw failed;
      },
    },
    {
      name: 'acquireRollingLock + releaseRollingLock',
      needs: ['cluster-ops-rolling-lock: leases'],
      run: async (round) => {
        const lock = { cluster: `rbac-${suffix}-${round}`, holder: 'rbac-test', runId: 'run-1' };
        await run(activities.acquireRollingLock, { ...lock, operation: 'nodeMaintenance' });
        await run(activities.releaseRollingLock, lock);
      },
    },
    { name: 'failingKustomizations', needs: [`${R}: kustomizations`], run: () => run(activities.failingKustomizations, { namespace }) },
    {
      name: 'requestReconcile + waitForAppliedRevision',
      needs: [`${R}: kustomizations`, `${R}: gitrepositories`],
      run: async () => {
        await run(activities.requestReconcile, { namespace, name: 'rbac' });
        await run(activities.waitForAppliedRevision, { namespace, name: 'rbac', commit: flux.commit, timeoutSeconds: 60 });
      },
    },
    {
      name: 'readExternalSecret (ClusterSecretStore)',
      needs: [`${OIDC}: externalsecrets`, `${OIDC}: secrets`, `${R}: clustersecretstores`],
      run: () => run(activities.readExternalSecret, es),
    },
    {
      name: 'readExternalSecret (SecretStore)',
      needs: [`${OIDC}: externalsecrets`, `${OIDC}: secrets`, `${OIDC}: secretstores`],
      run: () => run(activities.readExternalSecret, nsStoreEs),
    },
    {
      name: 'readExternalSecret (store not Ready: ESO’s event)',
      needs: [`${OIDC}: externalsecrets`, `${OIDC}: secrets`, `${R}: clustersecretstores`, `${R}: events`],
      run: async () => {
        const refused = await run(activities.readExternalSecret, unreadyEs).then(
          () => undefined,
          (error: ApplicationFailure) => error,
        );
        if (refused?.type !== FailureType.SecretStoreNotReady) throw refused ?? new Error('a store ESO cannot use passed');
      },
    },
    {
      name: 'syncExternalSecret',
      needs: [`${OIDC}: externalsecrets`, `${OIDC}: secrets`],
      run: (round) => run(activities.syncExternalSecret, { ...es, requestId: `rbac-${round}`, expectedFingerprint: fingerprint(secret), timeoutSeconds: 30 }),
    },
    {
      name: 'restartWorkload + waitForRollout',
      needs: [`${OIDC}: deployments,statefulsets`],
      run: async (round) => {
        await run(activities.restartWorkload, { ...consumer!, restartedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, round)).toISOString() });
        await run(activities.waitForRollout, { ...consumer!, timeoutSeconds: 60 });
      },
    },
    {
      name: 'createJobAttempt',
      needs: [`${NCCL}: jobs`, `${NCCL}: services`, `${NCCL}: persistentvolumeclaims`],
      run: async (round) => {
        const spec = ncclSpec(round);
        ncclObjects.push(`job/${spec.name}-a1`, `service/${spec.name}-a1`, `pvc/${spec.name}`);
        await run(activities.createJobAttempt, { spec, attempt: 1 });
      },
    },
    {
      name: 'cleanupJob',
      needs: [`${NCCL}: jobs`, `${NCCL}: services`, `${R}: pods`],
      // An attempt's Job (suspended: no pods, so no node to look at) and Service, made by the admin.
      prepare: async (round) => {
        const name = `rbac-${suffix}-c${round}`;
        const metadata = { name, labels: { [NCCL_JOB_LABEL]: name } };
        ncclObjects.push(`job/${name}`, `service/${name}`);
        await cluster.kube.batch.createNamespacedJob({
          namespace: 'nccl',
          body: {
            metadata,
            spec: { suspend: true, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'm', image: 'registry.invalid/t:1' }] } } },
          },
        });
        await cluster.kube.core.createNamespacedService({ namespace: 'nccl', body: { metadata, spec: { clusterIP: 'None', ports: [{ port: 1 }] } } });
      },
      run: async (round) => {
        const { deleted } = await run(activities.cleanupJob, { ref: { namespace: 'nccl', name: `rbac-${suffix}-c${round}` }, timeoutSeconds: 30 });
        if (deleted.length !== 2) throw new Error(`deleted ${deleted.join(', ')}`);
      },
    },
    {
      name: 'summarizeBenchmark',
      needs: [`${R}: pods`, `${NCCL}: pods/log`],
      run: async () => {
        const { summary } = await run(activities.summarizeBenchmark, { ref: { namespace: 'nccl', name: benchmark }, attempt: 1, lineRateGBps: 25 });
        if (summary.peakBusBwGBps <= 0) throw new Error(`summarized ${JSON.stringify(summary)}`);
      },
    },
    {
      name: 'watchJobAttempt: rank 0 log',
      needs: [`${NCCL}: jobs`, `${R}: pods`, `${R}: nodes`, `${NCCL}: pods/log`],
      run: async (round) => {
        const spec = { ...ncclSpec(round), name: benchmark };
        const { observation } = await run(activities.watchJobAttempt, { spec, attempt: 1 });
        if (!observation.log.includes('Avg bus bandwidth')) throw new Error(`rank 0 log read as ${JSON.stringify(observation.log.slice(-200))}`);
      },
    },
    {
      name: 'newestCheckpoint (lister pod)',
      needs: [`${NCCL}: persistentvolumeclaims`, `${NCCL}: pods`, `${NCCL}: pods/log`],
      // A claim of its own each round, bound to a directory holding two checkpoints.
      prepare: async (round) => {
        const claim = checkpointClaim(round);
        ncclObjects.push(`pvc/${claim}`, `pod/${claim}-ls`);
        await cluster.kube.core.createNamespacedPersistentVolumeClaim({
          namespace: 'nccl',
          body: {
            metadata: { name: claim, labels: { [NCCL_JOB_LABEL]: claim } },
            spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '1Gi' } } },
          },
        });
        await eventually(
          async () => (await cluster.kube.core.readNamespacedPersistentVolumeClaim({ namespace: 'nccl', name: claim })).status?.phase === 'Bound',
          `${claim} Bound`,
        );
        await ncclRunner.saveCheckpoints(claim, ['ckpt-000200', 'ckpt-000100']);
      },
      run: async (round) => {
        const found = await run(activities.newestCheckpoint, { ref: { namespace: 'nccl', name: 'rbac' }, claim: checkpointClaim(round), dir: '/checkpoints' });
        if (found.newest !== '/checkpoints/ckpt-000200' || found.count !== 2) throw new Error(`listed ${JSON.stringify(found)}`);
      },
    },
  ];
}

/** An ExternalSecret (same Infisical secret as the bed's client) on a store of its own with `identity`. */
async function externalSecretOnOwnStore(kind: 'SecretStore' | 'ClusterSecretStore', identity: { clientId: string; clientSecret: string }, value: string) {
  const { namespace } = cluster;
  const name = uniqueName(kind.toLowerCase());
  await cluster.kube.core.createNamespacedSecret({ namespace, body: { metadata: { name }, stringData: identity } });
  const ref = (key: string) => ({ name, key, ...(kind === 'ClusterSecretStore' ? { namespace } : {}) });
  const provider = infisicalProvider(bed.infisical.url, { projectId: TEST_PROJECT, environment: 'prod' }, ref);
  const body = { apiVersion: `${ESO_GROUP}/${ESO_VERSION}`, kind, metadata: { name }, spec: { provider } };
  if (kind === 'SecretStore')
    await cluster.kube.custom.createNamespacedCustomObject({ group: ESO_GROUP, version: ESO_VERSION, namespace, plural: 'secretstores', body });
  else {
    await cluster.kube.custom.createClusterCustomObject({ group: ESO_GROUP, version: ESO_VERSION, plural: 'clustersecretstores', body });
    clusterStores.push(name);
  }
  const target = {
    clientId: name,
    infisical: { projectId: TEST_PROJECT, environment: 'prod', secretPath: '/keycloak', secretName: `${name.toUpperCase().replace(/-/g, '_')}` },
    externalSecret: { namespace, name: `${name}-es` },
    consumers: [],
  };
  await provisionOidcClient(cluster.kube, bed.infisical, target, { store: name, storeKind: kind, initialSecret: value });
  return { ...target.externalSecret, secret: target.infisical };
}

async function runProbes(round: number): Promise<Map<string, string | undefined>> {
  const outcomes = await Promise.all(
    probes.map(async (probe) => {
      try {
        await probe.run(round);
        return [probe.name, undefined] as const;
      } catch (error) {
        return [probe.name, (error as Error).message] as const;
      }
    }),
  );
  return new Map(outcomes);
}

test('every RBAC rule is needed: without it, exactly the activities that use it fail, naming its verb and resource', async () => {
  const rules: RuleUnderTest[] = roles.flatMap((role) =>
    role.rules.map((rule, index) => {
      const binding = bindings.find((b) => b.roleRef.name === role.metadata.name)!;
      return {
        key: `${role.metadata.name}: ${rule.resources.join(',')}`,
        role: { ...role, metadata: { ...role.metadata, name: copyName(role.metadata.name) } },
        index,
        namespace: role.metadata.namespace ?? (binding.kind === 'RoleBinding' ? cluster.namespace : ''),
      };
    }),
  );
  const declared = new Set(probes.flatMap((p) => p.needs));
  // A rule no probe declares is one this test cannot prove; a need that names no rule is a typo.
  expect([...declared].filter((need) => !rules.some((r) => r.key === need))).toEqual([]);
  expect(rules.filter((r) => !declared.has(r.key)).map((r) => r.key)).toEqual([]);

  let round = 0;
  const prepared = async () => {
    round += 1;
    await Promise.all(probes.map(async (probe) => probe.prepare?.(round)));
    return round;
  };
  const everything = await runProbes(await prepared());
  expect([...everything].filter(([, failure]) => failure !== undefined)).toEqual([]);

  const proven: string[] = [];
  for (const target of rules.filter((r) => declared.has(r.key))) {
    const started = Date.now();
    const current = await prepared();
    const rule = target.role.rules[target.index]!;
    await apply([{ ...target.role, rules: target.role.rules.filter((_, i) => i !== target.index) }]);
    await authorizerSays(target, false);
    const outcomes = await runProbes(current);
    await apply([target.role]);
    await authorizerSays(target, true);

    const failed = [...outcomes].filter(([, failure]) => failure !== undefined).map(([name]) => name);
    const expected = probes.filter((p) => p.needs.includes(target.key)).map((p) => p.name);
    expect({ rule: target.key, failed: failed.sort() }).toEqual({ rule: target.key, failed: expected.sort() });
    for (const name of failed)
      expect({ rule: target.key, probe: name, message: outcomes.get(name) }).toMatchObject({ message: expect.stringMatching(refusalOf(rule)) });
    proven.push(`${target.key} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
  console.log(`RBAC rules proven needed: ${proven.length}/${rules.length}\n${proven.map((key) => `  ${key}`).join('\n')}`);
}, 1_200_000);
