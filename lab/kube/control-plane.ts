import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { NCCL_JOB_LABEL } from '../../src/activities/nccl/manifests.js';
import type { InfraPaths } from '../infra/paths.js';
import { freePort, httpsStatus, killLeftovers, launch, waitReady } from '../process.js';
import type { ManagedProcess } from '../process.js';
import { installCrds } from './crds.js';
import { ensurePki } from './pki.js';

/**
 * KWOK's stage files we use (kwok module's kustomize/stage, Apache-2.0): nodes come up and beat, pods run.
 * The heartbeat is the node status every 20 to 45 s, as a kubelet without a Lease reports. The Lease variant
 * updates the status only every 10 to 20 minutes and needs KWOK's --node-lease-duration-seconds, with which
 * KWOK does not take over a node annotated after it was created (startKubelet, a joining node); without
 * either, the node controller marked every node Unknown 300 s after it was made, and KWOK, making it Ready
 * again, left its pods NotReady for good (every PDB then refused every eviction).
 */
const KWOK_STAGES = [
  'node/fast/node-initialize.yaml',
  'node/heartbeat/node-heartbeat.yaml',
  'node/chaos/node-not-ready.yaml',
  'pod/fast/pod-ready.yaml',
  'pod/fast/pod-complete.yaml',
  'pod/fast/pod-delete.yaml',
  // Lets a test fail a pod (a hook Job's) by label, with an exit code and message from annotations.
  'pod/chaos/pod-container-running-failed.yaml',
];

/**
 * KWOK completes every running Job pod at once; NCCL job pods are left to the simulated NCCL runner
 * (lab/sim/nccl-runner.ts), which decides how each attempt ends.
 */
function labStage(file: string, text: string): string {
  if (file !== 'pod/fast/pod-complete.yaml') return text;
  const stage = parse(text) as { spec: { selector: { matchExpressions: unknown[] } } };
  stage.spec.selector.matchExpressions.push({ key: `.metadata.labels["${NCCL_JOB_LABEL}"]`, operator: 'DoesNotExist' });
  return stringify(stage);
}

/** Nodes carrying this annotation get a simulated kubelet from KWOK. */
export const KWOK_NODE_ANNOTATION = { 'kwok.x-k8s.io/node': 'fake' };

export interface ControlPlane {
  /** Admin (system:masters) kubeconfig. */
  kubeconfig: string;
  server: string;
  caCert: string;
  /**
   * Stops kube-apiserver alone and starts it again with the same flags, port and etcd, so every object is
   * kept; resolves once it answers /readyz. For tests of clients that must ride out an API server restart.
   */
  restartApiServer(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A real Kubernetes control plane on loopback: etcd, kube-apiserver (TLS, token auth, RBAC),
 * kube-controller-manager, kube-scheduler, and KWOK as the simulated kubelets of annotated nodes.
 * State lives under `dir`, so the lab keeps its cluster across restarts.
 */
export async function startControlPlane(dir: string, infra: InfraPaths): Promise<ControlPlane> {
  mkdirSync(dir, { recursive: true });
  killLeftovers(dir);
  const pki = await ensurePki(join(dir, 'pki'));
  const bin = (name: string) => join(infra.kubeBin, name);
  const [etcdPort, etcdPeerPort, apiPort, controllerPort, schedulerPort, kwokPort] = await Promise.all(Array.from({ length: 6 }, freePort));
  const server = `https://127.0.0.1:${apiPort}`;
  const token = persistentToken(join(dir, 'admin-token'));
  writeFileSync(join(dir, 'tokens.csv'), `${token},cluster-ops-admin,cluster-ops-admin,"system:masters"\n`);
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigYaml(server, pki.caCert, 'cluster-ops-admin', token));

  const launchApiServer = () =>
    launch(dir, 'kube-apiserver', bin('kube-apiserver'), [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'pki')}`,
      `--tls-cert-file=${pki.servingCert}`,
      `--tls-private-key-file=${pki.servingKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=Node,RBAC',
      `--service-account-key-file=${pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      '--service-cluster-ip-range=10.96.0.0/12',
      // A loopback advertise address makes the default endpoint reconciler log errors every 10 s.
      '--endpoint-reconciler-type=none',
      '--allow-privileged=true',
      // Pod logs come from KWOK, which plays every node's kubelet on one loopback port (TLS, a throwaway
      // certificate: with no --kubelet-certificate-authority the API server does not verify it). The port is
      // given here (--kubelet-port: deprecated, still honoured by 1.33), not in each node's daemonEndpoints: it
      // is new each start, and a Ready node's status keeps the old one until its next heartbeat.
      '--kubelet-preferred-address-types=InternalIP',
      `--kubelet-port=${kwokPort}`,
    ]);
  const apiServerReady = (proc: ManagedProcess) => waitReady(proc, async () => (await httpsStatus(`${server}/readyz`, { ca: pki.caCert, token })) === 200);

  const processes: ManagedProcess[] = [];
  let apiserver: ManagedProcess;
  const stop = async () => {
    for (const proc of processes.reverse()) await proc.stop();
  };
  try {
    const etcd = launch(dir, 'etcd', infra.etcd, [
      '--name=lab',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=lab=http://127.0.0.1:${etcdPeerPort}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    processes.push(etcd);
    await waitReady(etcd, async () => (await fetch(`http://127.0.0.1:${etcdPort}/health`)).ok);

    apiserver = launchApiServer();
    processes.push(apiserver);
    await apiServerReady(apiserver);

    const controllerManager = launch(dir, 'kube-controller-manager', bin('kube-controller-manager'), [
      `--kubeconfig=${kubeconfig}`,
      '--leader-elect=false',
      '--controllers=*,bootstrapsigner,tokencleaner',
      '--use-service-account-credentials',
      `--root-ca-file=${pki.caCert}`,
      `--service-account-private-key-file=${pki.serviceAccountKey}`,
      `--cluster-signing-cert-file=${pki.caCert}`,
      `--cluster-signing-key-file=${pki.caKey}`,
      // KWOK's heartbeat comes late when the machine is busy, and KWOK does not re-ready pods after a node
      // flapped: a long grace keeps simulated nodes from going Unknown under load. Failures are simulated on
      // purpose instead (lab/kube/nodes.ts setNodeNotReady).
      '--node-monitor-period=2s',
      // A claim whose PersistentVolume is made after it, pre-bound (the NCCL runner's hostPath volumes), is
      // bound on the PV controller's next claim resync: 15 s by default, 2 s here.
      '--pvclaimbinder-sync-period=2s',
      '--node-monitor-grace-period=300s',
      `--secure-port=${controllerPort}`,
      '--bind-address=127.0.0.1',
    ]);
    const scheduler = launch(dir, 'kube-scheduler', bin('kube-scheduler'), [
      `--kubeconfig=${kubeconfig}`,
      '--leader-elect=false',
      `--secure-port=${schedulerPort}`,
      '--bind-address=127.0.0.1',
    ]);
    processes.push(controllerManager, scheduler);
    const stagesFile = join(dir, 'kwok-stages.yaml');
    writeFileSync(stagesFile, KWOK_STAGES.map((file) => labStage(file, readFileSync(join(infra.kwokStages, file), 'utf8'))).join('\n---\n'));
    // KWOK watches Logs objects (a file served as a pod's log) only if their CRD is served when it starts.
    const admin = new KubeConfig();
    admin.loadFromFile(kubeconfig);
    await installCrds(admin, infra.kwokCrds);
    const kwok = launch(dir, 'kwok', infra.kwok, [
      `--kubeconfig=${kubeconfig}`,
      `--config=${stagesFile}`,
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      `--server-address=127.0.0.1:${kwokPort}`,
      '--enable-crds=Logs',
    ]);
    processes.push(kwok);
    const healthy = (url: string) => async () => (await httpsStatus(url)) === 200;
    await waitReady(controllerManager, healthy(`https://127.0.0.1:${controllerPort}/healthz`));
    await waitReady(scheduler, healthy(`https://127.0.0.1:${schedulerPort}/healthz`));
    await waitReady(kwok, async () => (await fetch(`http://127.0.0.1:${kwokPort}/healthz`)).ok);
  } catch (error) {
    await stop();
    throw error;
  }
  const restartApiServer = async () => {
    await apiserver.stop();
    const restarted = launchApiServer();
    processes[processes.indexOf(apiserver)] = restarted;
    apiserver = restarted;
    await apiServerReady(apiserver);
  };
  return { kubeconfig, server, caCert: pki.caCert, restartApiServer, stop };
}

function persistentToken(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = randomBytes(24).toString('hex');
  writeFileSync(file, token, { mode: 0o600 });
  return token;
}

export function kubeconfigYaml(server: string, caCert: string, user: string, token: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'lab', cluster: { server, 'certificate-authority': caCert } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: 'lab', context: { cluster: 'lab', user } }],
    'current-context': 'lab',
  });
}
