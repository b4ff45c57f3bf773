import type { V1Job, V1PersistentVolumeClaim, V1Service } from '@kubernetes/client-node';
import { JSON_RESULTS_BEGIN, JSON_RESULTS_END } from '../../domain/nccl/tests-json.js';
import { attemptName, DEFAULT_NCCL_ENV } from '../../schemas/nccl-job.js';
import type { NcclJobSpec } from '../../schemas/nccl-job.js';

/** Every object of a job carries these; cleanup and the lab's runner find them by the first two. */
export const NCCL_JOB_LABEL = 'cluster-ops.wcloud.sh/nccl-job';
export const ATTEMPT_LABEL = 'cluster-ops.wcloud.sh/attempt';
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'cluster-ops' };
export const MULTUS_ANNOTATION = 'k8s.v1.cni.cncf.io/networks';
export const SSH_PORT = 2222;
export const RENDEZVOUS_PORT = 29500;
/** Where nccl-tests writes its JSON results (`-J`) in the launcher's container, before they go to the log. */
const JSON_RESULTS_FILE = '/tmp/nccl-tests.json';

/** Rank i's stable DNS name through the headless Service (Indexed Job hostname + subdomain). */
const rankHost = (job: string, index: number) => `${job}-${index}.${job}`;

export interface AttemptSpec {
  spec: NcclJobSpec;
  attempt: number;
  /** Training: the newest checkpoint to resume from (RESUME_FROM), if any. */
  resumeFrom?: string;
}

const labels = (spec: NcclJobSpec, attempt: number) => ({ ...MANAGED_BY, [NCCL_JOB_LABEL]: spec.name, [ATTEMPT_LABEL]: String(attempt) });

export function ncclEnv(spec: NcclJobSpec): Record<string, string> {
  return { ...DEFAULT_NCCL_ENV, ...spec.ncclEnv };
}

/**
 * Index 0 launches mpirun over ssh to every index's sshd; the others only serve sshd until the Job succeeds.
 * With JSON output the launcher then prints nccl-tests' JSON file between markers and exits as mpirun did.
 */
export function benchmarkScript(spec: NcclJobSpec, job: string): string {
  const b = spec.benchmark;
  const hosts = spec.nodes.map((_, i) => rankHost(job, i));
  const exports = Object.keys(ncclEnv(spec))
    .map((k) => `-x ${k}`)
    .join(' ');
  const json = b.output === 'json';
  const test =
    `${b.testsDir}/${b.test} -b ${b.minBytes} -e ${b.maxBytes} -f ${b.stepFactor} -g 1 -n ${b.iters} -w ${b.warmupIters} -c ${b.check ? 1 : 0}` +
    (json ? ` -J ${JSON_RESULTS_FILE}` : '');
  const mpirun =
    `mpirun --allow-run-as-root -np ${hosts.length} -H ${hosts.map((h) => `${h}:1`).join(',')} ` +
    `--mca plm_rsh_args "-p ${SSH_PORT} -o StrictHostKeyChecking=no" ${exports} ${test}`;
  return [
    'set -eu',
    'mkdir -p /run/sshd',
    `if [ "$JOB_COMPLETION_INDEX" != 0 ]; then exec /usr/sbin/sshd -D -e -p ${SSH_PORT}; fi`,
    `/usr/sbin/sshd -p ${SSH_PORT}`,
    `for host in ${hosts.join(' ')}; do until ssh -p ${SSH_PORT} -o StrictHostKeyChecking=no -o ConnectTimeout=2 "$host" true; do sleep 2; done; done`,
    ...(json
      ? [
          `status=0; ${mpirun} || status=$?`,
          `echo '${JSON_RESULTS_BEGIN}'; cat ${JSON_RESULTS_FILE} 2>/dev/null || true; echo; echo '${JSON_RESULTS_END}'`,
          'exit $status',
        ]
      : [`exec ${mpirun}`]),
  ].join('\n');
}

const shellQuote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

/** torchrun on every index, rank from JOB_COMPLETION_INDEX, rendezvous at index 0 through the Service. */
export function trainingScript(spec: NcclJobSpec, job: string): string {
  const t = spec.training!;
  return [
    'set -eu',
    `exec torchrun --nnodes=${spec.nodes.length} --nproc-per-node=1 --node-rank="$JOB_COMPLETION_INDEX" ` +
      `--master-addr=${rankHost(job, 0)} --master-port=${RENDEZVOUS_PORT} ${t.command.map(shellQuote).join(' ')}`,
  ].join('\n');
}

export function jobManifest({ spec, attempt, resumeFrom }: AttemptSpec): V1Job {
  const name = attemptName(spec.name, attempt);
  const podLabels = labels(spec, attempt);
  const training = spec.kind === 'training';
  const env = Object.entries(ncclEnv(spec)).map(([k, value]) => ({ name: k, value }));
  if (training) {
    env.push({ name: 'CHECKPOINT_DIR', value: spec.training!.checkpointDir }, { name: 'RESUME_FROM', value: resumeFrom ?? '' });
  }
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: spec.namespace, labels: podLabels },
    spec: {
      completionMode: 'Indexed',
      completions: spec.nodes.length,
      parallelism: spec.nodes.length,
      // The workflow retries whole attempts (all ranks together); a lone rank restarted cannot rejoin NCCL.
      backoffLimit: 0,
      activeDeadlineSeconds: spec.attemptTimeoutSeconds,
      // A benchmark is done when the launcher (index 0) is; the sshd workers never exit on their own.
      ...(training ? {} : { successPolicy: { rules: [{ succeededIndexes: '0' }] } }),
      template: {
        metadata: { labels: podLabels, annotations: { [MULTUS_ANNOTATION]: spec.network } },
        spec: {
          restartPolicy: 'Never',
          subdomain: name,
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: spec.nodes }] }],
              },
            },
            podAntiAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [
                { labelSelector: { matchLabels: { [NCCL_JOB_LABEL]: spec.name, [ATTEMPT_LABEL]: String(attempt) } }, topologyKey: 'kubernetes.io/hostname' },
              ],
            },
          },
          containers: [
            {
              name: 'nccl',
              image: spec.image,
              command: ['/bin/bash', '-c', training ? trainingScript(spec, name) : benchmarkScript(spec, name)],
              env,
              ports: [{ containerPort: training ? RENDEZVOUS_PORT : SSH_PORT }],
              resources: {
                limits: { 'nvidia.com/gpu': '1', 'nvidia.com/cx7_qsfp': String(spec.vfsPerPod) },
                requests: { 'nvidia.com/gpu': '1', 'nvidia.com/cx7_qsfp': String(spec.vfsPerPod) },
              },
              // RDMA registers (pins) memory.
              securityContext: { capabilities: { add: ['IPC_LOCK'] } },
              volumeMounts: [
                { name: 'shm', mountPath: '/dev/shm' },
                ...(training ? [{ name: 'checkpoints', mountPath: spec.training!.checkpointDir }] : [{ name: 'ssh', mountPath: '/root/.ssh', readOnly: true }]),
              ],
            },
          ],
          volumes: [
            { name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: '16Gi' } },
            training
              ? { name: 'checkpoints', persistentVolumeClaim: { claimName: spec.training!.checkpointClaim } }
              : { name: 'ssh', secret: { secretName: spec.benchmark.sshSecret, defaultMode: 0o400 } },
          ],
        },
      },
    },
  };
}

/** Headless, and publishing not-ready pods: ranks resolve each other while they start. */
export function serviceManifest({ spec, attempt }: AttemptSpec): V1Service {
  const name = attemptName(spec.name, attempt);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: spec.namespace, labels: labels(spec, attempt) },
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: { [NCCL_JOB_LABEL]: spec.name, [ATTEMPT_LABEL]: String(attempt) },
      ports: [
        { name: 'ssh', port: SSH_PORT },
        { name: 'rendezvous', port: RENDEZVOUS_PORT },
      ],
    },
  };
}

/** The checkpoint claim outlives attempts and runs (it holds the training's progress): never cleaned up. */
export function checkpointClaimManifest(spec: NcclJobSpec): V1PersistentVolumeClaim {
  const t = spec.training!;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: t.checkpointClaim, namespace: spec.namespace, labels: { ...MANAGED_BY, [NCCL_JOB_LABEL]: spec.name } },
    spec: {
      accessModes: ['ReadWriteMany'],
      resources: { requests: { storage: t.checkpointSize } },
      ...(t.storageClassName ? { storageClassName: t.storageClassName } : {}),
    },
  };
}
