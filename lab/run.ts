import { mkdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { kubeClients, loadKubeConfig } from '../src/activities/kube/clients.js';
import { loadEnv, WorkerEnv } from '../src/config.js';
import { OPERATION_HISTOGRAM_BUCKETS } from '../src/domain/operation-metrics.js';
import { startTracing } from '../src/tracing.js';
import { createWorker, gitOpsFromEnv, secretRotationFromEnv } from '../src/worker.js';
import { startExternalSecrets } from './external-secrets.js';
import { startFluxControllers } from './flux.js';
import { startGitHttpServer } from './git-server.js';
import { GITOPS_BRANCH, startLabGitOps } from './gitops.js';
import { installCrds } from './kube/crds.js';
import { initialLabSecret, keycloakAvailable, LAB_REALM, startKeycloak } from './keycloak.js';
import { startLabOidc } from './oidc.js';
import { installInfra } from './infra/paths.js';
import { startJaeger } from './jaeger.js';
import { startControlPlane } from './kube/control-plane.js';
import { ensureNode, nodeClass, nodeReadiness, WILLINGHAM_NODES } from './kube/nodes.js';
import { repoRoot } from './repo-root.js';
import { startTemporalDevServer } from './temporal.js';
import { startVictoriaMetrics } from './victoria-metrics.js';
import { SimulatedNcclRunner } from './sim/nccl-runner.js';

/**
 * `npm run lab`: the whole service on this machine. A real Temporal dev server with its UI, a real
 * Kubernetes control plane whose three nodes (mirroring willingham-k8s) are simulated by KWOK, and the
 * cluster-ops worker. State is kept under .lab/ across restarts; Ctrl-C stops everything.
 */
async function main() {
  const root = repoRoot();
  const dir = process.env.LAB_DIR ?? join(root, '.lab');
  const temporalPort = Number(process.env.LAB_TEMPORAL_PORT ?? 7233);
  const uiPort = Number(process.env.LAB_UI_PORT ?? 8233);
  const taskQueue = process.env.TASK_QUEUE ?? 'cluster-ops';
  const workerMetrics = `127.0.0.1:${Number(process.env.LAB_WORKER_METRICS_PORT ?? 9464)}`;
  mkdirSync(dir, { recursive: true });
  // The worker's Prometheus endpoint as in the cluster; the lab's VictoriaMetrics scrapes it.
  Runtime.install({
    logger: new DefaultLogger('WARN'),
    shutdownSignals: [],
    telemetryOptions: { metrics: { prometheus: { bindAddress: workerMetrics, histogramBucketOverrides: OPERATION_HISTOGRAM_BUCKETS } } },
  });

  const infra = await installInfra();
  const [temporal, controlPlane, victoriaMetrics, jaeger] = await Promise.all([
    startTemporalDevServer(join(dir, 'temporal'), infra, { port: temporalPort, uiPort }),
    startControlPlane(join(dir, 'kube'), infra),
    startVictoriaMetrics(join(dir, 'victoria-metrics'), infra, { port: Number(process.env.LAB_VICTORIA_METRICS_PORT ?? 8428), scrape: [workerMetrics] }),
    startJaeger(join(dir, 'jaeger'), infra, {
      queryPort: Number(process.env.LAB_JAEGER_PORT ?? 16686),
      otlpGrpcPort: Number(process.env.LAB_JAEGER_OTLP_PORT ?? 4317),
    }),
  ]);
  // Keycloak needs a minute to start: awaited only by whoever uses it. Launched once the other servers hold
  // their ports, so the free port it picks for its management interface cannot be one of theirs.
  const keycloak = keycloakAvailable(infra)
    ? await startKeycloak(join(dir, 'keycloak'), infra, { port: Number(process.env.LAB_KEYCLOAK_PORT ?? 8180) })
    : undefined;
  const kube = kubeClients(loadKubeConfig(controlPlane.kubeconfig));
  for (const node of WILLINGHAM_NODES) await ensureNode(kube.core, node);
  await installCrds(kube.config, infra.crds);
  const gitRoot = join(dir, 'git');
  mkdirSync(gitRoot, { recursive: true });
  const [git, flux, externalSecrets] = await Promise.all([
    startGitHttpServer(gitRoot, { port: Number(process.env.LAB_GIT_PORT ?? 8190) }),
    startFluxControllers(join(dir, 'flux'), infra, controlPlane.kubeconfig, { storagePort: Number(process.env.LAB_FLUX_STORAGE_PORT ?? 8191) }),
    startExternalSecrets(join(dir, 'external-secrets'), infra, controlPlane.kubeconfig),
  ]);
  const gitops = await startLabGitOps(kube.config, { root: gitRoot, url: git.url });
  // NCCL jobs run in namespace nccl; the worker's rolling lock (a Lease) lives in temporal-system, as in the
  // cluster. The simulated NCCL runner completes each attempt with a real recorded two-DGX-Spark log unless
  // told otherwise.
  for (const name of ['nccl', 'temporal-system']) {
    await kube.core.createNamespace({ body: { metadata: { name } } }).catch((error: { code?: number }) => {
      if (error.code !== 409) throw error;
    });
  }
  const fixture = (name: string) => readFileSync(join(root, 'test/fixtures/nccl', name), 'utf8');
  const ncclRunner = new SimulatedNcclRunner(kube, 'nccl', join(dir, 'nccl'), {
    kind: 'complete',
    log: fixture('nccl-debug-2xDGX-Spark.log') + fixture('all_gather-2xDGX-Spark-degraded.txt'),
  });
  const oidc = await startLabOidc(kube, join(root, 'schedules/oidc-clients.yaml'), initialLabSecret);
  // The worker is configured exactly as in the cluster, through its environment.
  const workerEnv = loadEnv(WorkerEnv, {
    KUBECONFIG: controlPlane.kubeconfig,
    GITOPS_REPO_URL: gitops.bareRepo,
    GITOPS_BRANCH,
    GITOPS_CHECKOUT_DIR: join(dir, 'worker-gitops'),
    KUBECTL: join(infra.kubeBin, 'kubectl'),
    GITHUB_REPOSITORY: `${gitops.github.owner}/${gitops.github.repo}`,
    GITHUB_TOKEN: gitops.github.token,
    GITHUB_API_URL: gitops.github.url,
    VICTORIA_METRICS_URL: victoriaMetrics.url,
    OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpGrpcUrl,
    INFISICAL_URL: oidc.infisical.url,
    INFISICAL_CLIENT_ID: oidc.infisical.identity.clientId,
    INFISICAL_CLIENT_SECRET: oidc.infisical.identity.clientSecret,
    ...(keycloak
      ? {
          KEYCLOAK_URL: keycloak.url,
          KEYCLOAK_REALM: LAB_REALM,
          KEYCLOAK_ADMIN_USERNAME: keycloak.admin.username,
          KEYCLOAK_ADMIN_PASSWORD: keycloak.admin.password,
        }
      : {}),
  });

  const tracing = startTracing('cluster-ops-worker', workerEnv.OTEL_EXPORTER_OTLP_ENDPOINT);
  const connection = await NativeConnection.connect({ address: temporal.address });
  const worker = await createWorker({
    connection,
    namespace: 'default',
    taskQueue,
    deps: {
      kube,
      gitops: gitOpsFromEnv(workerEnv),
      metrics: { url: workerEnv.VICTORIA_METRICS_URL! },
      ...secretRotationFromEnv(workerEnv),
    },
    workflowBundlePath: join(root, 'dist/workflow-bundle.js'),
    tracing,
  });
  const running = worker.run();

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping the lab...');
    worker.shutdown();
    await running.catch(() => undefined);
    await connection.close();
    await tracing?.shutdown();
    await Promise.all([gitops.stop(), oidc.stop(), ncclRunner.stop(), flux.stop(), externalSecrets.stop(), git.close()]);
    await Promise.all([temporal.stop(), controlPlane.stop(), victoriaMetrics.stop(), jaeger.stop(), keycloak?.stop()]);
    console.log('lab stopped');
    process.exit(0);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop());

  const kubeconfig = relative(process.cwd(), controlPlane.kubeconfig) || controlPlane.kubeconfig;
  const kubectl = join(infra.kubeBin, 'kubectl');
  // The nodes as the API server has them now: name, kind of machine, readiness.
  const nodes = (await kube.core.listNode()).items.map((node) => ({ name: node.metadata!.name!, kind: nodeClass(node), ready: nodeReadiness(node) }));
  nodes.sort((a, b) => a.name.localeCompare(b.name));
  const [nameWidth, kindWidth] = [Math.max(...nodes.map((n) => n.name.length)), Math.max(...nodes.map((n) => n.kind.length))];
  const nodeLines = nodes.map((n, i) => `${(i === 0 ? '  Nodes' : '').padEnd(19)}${n.name.padEnd(nameWidth + 2)}${n.kind.padEnd(kindWidth + 2)}${n.ready}`);
  const cli = 'node dist/src/client/cli.js';
  // Started as docs/workflows shows: with the summary and plan the Temporal UI displays for the run.
  const temporalStart = (type: string, workflowId: string, input: string) => `  input='${input}'
  ${infra.temporal} workflow start --address ${temporal.address} --task-queue ${taskQueue} \\
      --type ${type} --workflow-id ${workflowId} --input "$input" \\
      --static-summary "$(${cli} describe ${type} --input "$input" --summary)" \\
      --static-details "$(${cli} describe ${type} --input "$input")"`;
  console.log(`
cluster-ops lab is up (real: Temporal, Kubernetes control plane, Flux source- and kustomize-controller,
External Secrets Operator v0.20.4, Keycloak, VictoriaMetrics, Jaeger; simulated: kubelets (KWOK), the SR-IOV device plugin,
NCCL job pods; fakes: GitHub, Infisical)

  Temporal UI      ${temporal.uiUrl}
  Temporal gRPC    ${temporal.address}   task queue: ${taskQueue}
  Kubernetes API   ${controlPlane.server}
${nodeLines.join('\n')}
  GitOps repo      ${gitops.bareRepo} (branch ${GITOPS_BRANCH}), served to Flux at ${gitops.url}
  Flux             ${kubectl} --kubeconfig ${kubeconfig} get kustomizations -n flux-system (logs: ${join(dir, 'flux')})
  External Secrets ${kubectl} --kubeconfig ${kubeconfig} get externalsecrets -A (real ESO; log: ${externalSecrets.controller.logFile})
  GitHub (fake)    ${gitops.github.url}  token ${gitops.github.token}
  VictoriaMetrics  ${victoriaMetrics.url}  (real; NCCL results, and the worker's metrics it scrapes from ${workerMetrics})
  Grafana          none in the lab: the dashboard's queries (manifests/grafana) run on VictoriaMetrics, e.g.
                   ${victoriaMetrics.url}/api/v1/query?query=cluster_ops_runs_started_total
  Jaeger           ${jaeger.queryUrl}/api/traces?service=cluster-ops-worker  (real Jaeger v2, in memory: the query API;
                   its UI is a placeholder, a module-proxy build has no UI assets); OTLP gRPC ${jaeger.otlpGrpcUrl}
  Keycloak         ${keycloak ? `${keycloak.url}/admin (admin / ${keycloak.admin.password}; realm ${LAB_REALM}; starting, ~1 min)` : 'not started: no Java/Keycloak (bash lab/infra/install.sh)'}
  Infisical (fake) ${oidc.infisical.url}  (${oidc.clients.length} OIDC client secrets, synced by the real ESO)
  kubeconfig       export KUBECONFIG=${controlPlane.kubeconfig}
  kubectl          ${kubectl} --kubeconfig ${kubeconfig} get nodes

Try:
${temporalStart('drainNode', 'drain-node-talos-7aj-lwl', '{"node":"talos-7aj-lwl","dryRun":true}')}
  ${infra.temporal} workflow list --address ${temporal.address}
  TEMPORAL_ADDRESS=${temporal.address} node dist/src/client/cli.js list
  TEMPORAL_ADDRESS=${temporal.address} node dist/src/client/cli.js start drainNode --input '{"node":"talos-ysi-4k0","uncordonAfter":true}'
  traced from the CLI on (its start span is the trace's root):
  OTEL_EXPORTER_OTLP_ENDPOINT=${jaeger.otlpGrpcUrl} TEMPORAL_ADDRESS=${temporal.address} node dist/src/client/cli.js start drainNode --input '{"node":"talos-7aj-lwl","dryRun":true}' --id traced-dry-run
  curl '${jaeger.queryUrl}/api/traces?service=cluster-ops-cli'

SR-IOV: 4 → 8 VFs on both DGX Sparks, one at a time (opens a pull request on the fake GitHub):
${temporalStart('sriovRollout', 'sriov-rollout-willingham-k8s', '{"numVfs":8}')}
  TEMPORAL_ADDRESS=${temporal.address} node dist/src/client/cli.js progress sriov-rollout-willingham-k8s --watch
  merge the pull request as a reviewer would:
  curl -X PUT -H 'authorization: token ${gitops.github.token}' ${gitops.github.url}/repos/${gitops.github.owner}/${gitops.github.repo}/pulls/1/merge

NCCL benchmark on both DGX Sparks (simulated runner: a recorded two-Spark all_gather log), results in VictoriaMetrics:
  TEMPORAL_ADDRESS=${temporal.address} node dist/src/client/cli.js start ncclJob --input '{"name":"nightly-allgather","kind":"benchmark","image":"ghcr.io/example/nccl-tests:2.18.3","pollSeconds":1,"benchmark":{"test":"all_gather_perf"}}'
  TEMPORAL_ADDRESS=${temporal.address} node dist/src/client/cli.js progress nccl-job-nightly-allgather --watch
  curl '${victoriaMetrics.url}/api/v1/export?match[]=nccl_busbw_peak_gbps'

OIDC client secrets: rotate all seven (real Keycloak; 6 h soak), then follow it:
  TEMPORAL_ADDRESS=${temporal.address} node dist/src/client/cli.js start rotateOidcSecrets --input @schedules/oidc-clients.yaml
  TEMPORAL_ADDRESS=${temporal.address} node dist/src/client/cli.js progress rotate-oidc-secrets --watch
  TEMPORAL_ADDRESS=${temporal.address} node dist/src/client/cli.js schedules apply

Ctrl-C stops everything.`);
  keycloak?.ready.then(
    () => console.log(`Keycloak is ready at ${keycloak.url}`),
    (error: unknown) => console.error(`Keycloak did not start: ${(error as Error).message}`),
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
