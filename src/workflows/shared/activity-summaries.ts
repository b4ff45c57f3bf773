import { proxyActivities } from '@temporalio/workflow';
import type { ActivityInterfaceFor, ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import { attemptName } from '../../schemas/nccl-job.js';

type Summaries = { [K in keyof Activities]?: (input: Parameters<Activities[K]>[0]) => string };

const names = (list: string[]) => (list.length > 3 ? `${list.slice(0, 3).join(', ')} and ${list.length - 3} more` : list.join(', '));

/**
 * One line per activity call for the Temporal UI's timeline, written from the call's input, so a run's
 * history reads like its runbook ("cordon talos-ysi-4k0", "wait for talos-ysi-4k0 Ready"). An activity
 * missing here shows by its type name, as before.
 */
const SUMMARIES: Summaries = {
  checkInputTargets: ({ targets }) => `check that ${targets.length} input target(s) exist`,
  acquireRollingLock: ({ cluster, operation }) => `take the rolling lock of ${cluster} for ${operation}`,
  releaseRollingLock: ({ cluster }) => `release the rolling lock of ${cluster}`,
  listNodes: ({ names: nodes, selector }) => (nodes ? `read nodes ${names(nodes)}` : selector ? `read nodes matching ${selector}` : 'read all nodes'),
  failingKustomizations: ({ namespace }) => `health gate: failing Kustomizations in ${namespace}`,
  promQueryViolations: ({ query }) => `health gate: PromQL ${query}`,
  planNodeDrain: ({ node }) => `plan the drain of ${node}`,
  cordonNode: ({ node }) => `cordon ${node}`,
  drainPass: ({ node }) => `drain ${node}`,
  uncordonNode: ({ node }) => `uncordon ${node}`,
  nodeIdentity: ({ node, expected }) => (expected ? `check ${node} is the same node` : `record the identity of ${node}`),
  waitForNode: ({ node, condition, allocatable }) =>
    `wait for ${node}${condition ? ` ${condition.type}=${condition.status}` : ''}${allocatable ? ` to advertise ${allocatable.resource}=${allocatable.quantity}` : ''}`,
  runHookJob: ({ point, node, name }) => `hook ${point} on ${node}: Job ${name}`,
  podsUsingResource: ({ node, resource }) => `pods using ${resource} on ${node}`,
  restartDaemonPod: ({ namespace, daemonSet, node }) => `restart the ${namespace}/${daemonSet} pod on ${node}`,
  waitForDaemonPod: ({ namespace, daemonSet, node }) => `wait for the ${namespace}/${daemonSet} pod on ${node}`,
  readVfConfig: ({ path }) => `read the VF config in ${path}`,
  proposeVfChange: ({ desired, mode }) => `${mode === 'push' ? 'push' : 'propose'} ${desired.numVfs} VFs, MTU ${desired.mtu}`,
  getPullRequest: ({ number }) => `check pull request #${number}`,
  requestReconcile: ({ namespace, name }) => `request a reconcile of ${namespace}/${name}`,
  waitForAppliedRevision: ({ namespace, name, commit }) => `wait for ${namespace}/${name} to apply ${commit.slice(0, 12)}`,
  readFluxGraph: ({ namespace }) => `read the Flux graph in ${namespace}`,
  readFluxGraphFromGit: ({ ref, cluster }) => `read the Flux graph of ${cluster} at ${ref}`,
  reconcileKustomization: ({ namespace, name, withSource }) => `reconcile ${namespace}/${name}${withSource ? ' (source first)' : ''}`,
  readNodeInventory: ({ path }) => `read the node inventory ${path}`,
  preflightOidcRotation: ({ clientId }) => `preflight ${clientId}`,
  readExternalSecret: ({ namespace, name }) => `read ExternalSecret ${namespace}/${name}`,
  regenerateAndStoreSecret: ({ clientId }) => `regenerate the secret of ${clientId} and store it in Infisical`,
  syncExternalSecret: ({ namespace, name }) => `sync ExternalSecret ${namespace}/${name}`,
  restartWorkload: ({ kind, namespace, name }) => `restart ${kind} ${namespace}/${name}`,
  waitForRollout: ({ kind, namespace, name }) => `wait for the rollout of ${kind} ${namespace}/${name}`,
  verifyClientSecret: ({ clientId, version, expect }) => `verify ${clientId} secret v${version} is ${expect}`,
  revokeRotatedSecret: ({ clientId }) => `revoke the old secret of ${clientId}`,
  waitForJobNodes: ({ nodes, vfsPerPod }) => `wait for ${names(nodes)}: Ready, schedulable, a free GPU and ${vfsPerPod} free VF(s) each`,
  newestCheckpoint: ({ ref, claim, dir }) => `find the newest checkpoint of ${ref.name} in ${claim}:${dir}`,
  createJobAttempt: ({ spec, attempt, resumeFrom }) =>
    `create Job ${attemptName(spec.name, attempt)} on ${names(spec.nodes)}${resumeFrom ? `, resuming from ${resumeFrom}` : ''}`,
  watchJobAttempt: ({ spec, attempt }) => `watch Job ${attemptName(spec.name, attempt)} to its end`,
  summarizeBenchmark: ({ ref, attempt }) => `read the results in rank 0's log of ${attemptName(ref.name, attempt)}`,
  cleanupJob: ({ ref }) => `clean up the Jobs, Services and pods of ${ref.namespace}/${ref.name}`,
  readLatestSample: ({ name, labels }) =>
    `read the stored ${name}{${Object.entries(labels)
      .map(([k, v]) => `${k}="${v}"`)
      .join(',')}}`,
  pushSamples: ({ samples }) => `push ${samples.length} samples to VictoriaMetrics`,
  quarantineNode: ({ node }) => `quarantine ${node}`,
};

/**
 * proxyActivities, each call carrying its summary (see SUMMARIES). A call that says more than its input
 * (which drain pass) passes its own: `drainPass.executeWithOptions({ summary }, [input])`. Summaries are
 * user metadata: they are not part of a replay's determinism check, so runs recorded without them replay.
 */
export function proxyRunbookActivities(options: ActivityOptions): ActivityInterfaceFor<Activities> {
  const plain = proxyActivities<Activities>(options);
  const summarize = SUMMARIES as Record<string, ((input: unknown) => string) | undefined>;
  return new Proxy(plain, {
    get(target, name: string) {
      const activity = Reflect.get(target, name) as ActivityInterfaceFor<Activities>[keyof Activities];
      const summaryOf = summarize[name];
      if (!summaryOf) return activity;
      const withOptions = (overrides: ActivityOptions, args: unknown[]) =>
        (activity.executeWithOptions as (o: ActivityOptions, a: unknown[]) => Promise<unknown>)({ summary: summaryOf(args[0]), ...overrides }, args);
      return Object.assign((...args: unknown[]) => withOptions({}, args), { executeWithOptions: withOptions });
    },
  });
}
