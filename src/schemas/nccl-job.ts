import { z } from 'zod';
import { FAILURE_CAUSES } from '../domain/nccl/failure-classifier.js';
import { DEFAULT_FAILURE_POLICY, POLICY_ACTIONS } from '../domain/nccl/failure-policy.js';
import { absolutePath, containerImage, dnsLabel, kubeName, seconds, serviceName } from './common.js';

/**
 * NCCL settings that make it use the DGX Sparks' ConnectX-7 link (the Multus interface is net1). Each QSFP port
 * shows up as two ~100 Gb/s RoCE HCAs, one per PCIe half: NCCL_IB_HCA names both (NCCL matches names as
 * prefixes), or NCCL may run on one of them, at about half the link (11-12 GB/s instead of 19-24).
 */
export const DEFAULT_NCCL_ENV: Record<string, string> = {
  NCCL_SOCKET_IFNAME: 'net1',
  NCCL_IB_DISABLE: '0',
  NCCL_IB_HCA: 'rocep1s0f1,roceP2p1s0f1',
  NCCL_NET_GDR_LEVEL: '5',
  NCCL_DEBUG: 'INFO',
};

const NCCL_TESTS = ['all_reduce_perf', 'all_gather_perf', 'broadcast_perf', 'reduce_perf', 'reduce_scatter_perf', 'alltoall_perf', 'sendrecv_perf'] as const;
const byteSize = z.string().regex(/^\d+[KMG]?$/, 'must be bytes with an optional K, M or G suffix');
const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name');

export const NcclBenchmarkSpec = z.strictObject({
  /** The nccl-tests binary (an MPI build) run by mpirun from index 0. */
  test: z.enum(NCCL_TESTS).default('all_reduce_perf'),
  minBytes: byteSize.default('8'),
  maxBytes: byteSize.default('16G'),
  stepFactor: z.number().int().min(2).max(16).default(2),
  iters: z.number().int().min(1).max(10_000).default(20),
  warmupIters: z.number().int().min(0).max(10_000).default(5),
  /** Check results (-c 1); wrong results then fail the run. */
  check: z.boolean().default(true),
  /**
   * The results read: nccl-tests' text table, or its JSON file (`-J`, nccl-tests 2.19 and later: full-precision
   * figures), which the launcher prints into rank 0's log after the run.
   */
  output: z.enum(['text', 'json']).default('text'),
  /** Where the image has the nccl-tests binaries. */
  testsDir: absolutePath('/opt/nccl-tests/build').default('/opt/nccl-tests/build'),
  /** Secret with `id_rsa` and `authorized_keys` mounted at /root/.ssh for mpirun over ssh between the pods. */
  sshSecret: kubeName.default('nccl-ssh'),
});

export const NcclTrainingSpec = z.strictObject({
  /** What torchrun runs (script and its arguments); rank, world size and rendezvous come from the job. */
  command: z.array(z.string().min(1)).min(1),
  /** The PersistentVolumeClaim holding checkpoints (created ReadWriteMany if missing). */
  checkpointClaim: kubeName,
  checkpointSize: z
    .string()
    .regex(/^\d+(Mi|Gi|Ti)$/, 'must be a quantity like 50Gi')
    .default('50Gi'),
  storageClassName: kubeName.optional(),
  /** Where the claim is mounted; the script reads RESUME_FROM (newest checkpoint) and writes here. */
  checkpointDir: absolutePath('/checkpoints').default('/checkpoints'),
});

const FailurePolicyRule = z.strictObject({
  /** Causes as the classifier names them (src/domain/nccl/failure-classifier.ts). */
  causes: z.array(z.enum(FAILURE_CAUSES)).min(1),
  action: z.enum(POLICY_ACTIONS),
  /** Retries on a budget of this rule's own; absent, they draw on the job-failure budget (retry.maxAttempts). */
  retries: z.number().int().min(0).max(100).optional(),
});

export const NcclJobInput = z
  .strictObject({
    /** Names the Job, Service and metrics; one run per name (workflow id nccl-job-<name>). Room is left for the attempt suffix. */
    name: serviceName.max(40),
    kind: z.enum(['benchmark', 'training']),
    namespace: dnsLabel.default('nccl'),
    /** One pod per node; rank 0 (the launcher) runs on the first. */
    nodes: z.array(kubeName).min(2).max(8).default(['talos-7aj-lwl', 'talos-ysi-4k0']),
    image: containerImage,
    /** The Multus NetworkAttachmentDefinition of the ConnectX-7 VFs. */
    network: kubeName.default('dgx-qsfp'),
    /** VFs (nvidia.com/cx7_qsfp) per pod; one VF sits on one half of the port (one ~100 Gb/s HCA). */
    vfsPerPod: z.number().int().min(1).max(8).default(1),
    /** Added to (and overriding) DEFAULT_NCCL_ENV. */
    ncclEnv: z.record(envName, z.string()).default({}),
    benchmark: NcclBenchmarkSpec.prefault({}),
    training: NcclTrainingSpec.optional(),
    preflight: z
      .strictObject({
        /** Default: on for training, off for benchmarks (which measure the link anyway). */
        enabled: z.boolean().optional(),
        /** The attempt does not start below this peak all_reduce bus bandwidth. */
        minBusBwGBps: z.number().positive().default(15),
        /** The all_reduce message size: large enough to fill the link. */
        maxBytes: byteSize.default('1G'),
        /** An MPI build of nccl-tests; default: the job's image for benchmarks, PREFLIGHT_IMAGE for training. */
        image: containerImage.optional(),
        timeoutSeconds: seconds(3600).default(300),
      })
      .prefault({}),
    retry: z
      .strictObject({
        /** Attempts that may fail on the job-failure budget (maxAttempts - 1 retries), which rules with their own budget leave alone. */
        maxAttempts: z.number().int().min(1).max(20).default(3),
        initialBackoffSeconds: seconds(3600).default(30),
        maxBackoffSeconds: seconds(6 * 3600).default(600),
        /** How long to wait for a failed node to come back before giving up. */
        nodeRecoverySeconds: seconds(7 * 24 * 3600).default(1800),
      })
      .prefault({}),
    /**
     * Bad-node quarantine: a node named by this many failed attempts (a node lost, a pod its kubelet evicted) is
     * tainted cluster-ops.wcloud.sh/quarantine, and the job waits for its repair; 0: never.
     */
    quarantineAfterNodeFailures: z.number().int().min(0).max(100).default(2),
    /** What a failed attempt leads to: ordered rules, the first naming its cause wins (src/domain/nccl/failure-policy.ts). */
    failurePolicy: z.array(FailurePolicyRule).min(1).max(20).default(DEFAULT_FAILURE_POLICY),
    /** Waiting for the nodes to be Ready with a free GPU and VF before an attempt. */
    nodesTimeoutSeconds: seconds(7 * 24 * 3600).default(600),
    /** No new rank 0 log line for this long is a hang. */
    hangSeconds: seconds(24 * 3600).default(600),
    /** One attempt's limit (the Job's activeDeadlineSeconds). */
    attemptTimeoutSeconds: seconds(7 * 24 * 3600).default(6 * 3600),
    /** How often the watch samples job, pods, nodes and the log. */
    pollSeconds: seconds(300).default(10),
    results: z
      .strictObject({
        /** Push benchmark figures to VictoriaMetrics. */
        push: z.boolean().default(true),
        /** Compare with this; absent: the newest stored peak of the same name and test (30 days). */
        baselinePeakBusBwGBps: z.number().positive().optional(),
        regressionTolerance: z.number().min(0).max(1).default(0.1),
        lineRateGBps: z.number().positive().default(25),
      })
      .prefault({}),
  })
  // Runs even when single fields failed, so one message lists every problem.
  .check(
    z.superRefine(
      (input, ctx) => {
        if (input.kind === 'training' && !input.training) {
          ctx.addIssue({ code: 'custom', path: ['training'], message: 'required when kind is training' });
        }
        if (Array.isArray(input.nodes) && new Set(input.nodes).size !== input.nodes.length) {
          ctx.addIssue({ code: 'custom', path: ['nodes'], message: 'must not repeat a node' });
        }
        const ruleOf = new Map<string, number>();
        (Array.isArray(input.failurePolicy) ? input.failurePolicy : []).forEach((rule, i) => {
          if (rule?.action === 'fail' && rule.retries !== undefined) {
            ctx.addIssue({ code: 'custom', path: ['failurePolicy', i, 'retries'], message: 'a fail rule retries nothing' });
          }
          for (const cause of Array.isArray(rule?.causes) ? rule.causes : []) {
            const first = ruleOf.get(cause);
            if (first === undefined) ruleOf.set(cause, i);
            else ctx.addIssue({ code: 'custom', path: ['failurePolicy', i, 'causes'], message: `${cause} is rule ${first + 1}'s (the first match wins)` });
          }
        });
      },
      { when: () => true },
    ),
  );
export type NcclJobInput = z.input<typeof NcclJobInput>;
export type NcclJobSpec = z.output<typeof NcclJobInput>;

export const ncclJobId = (name: string) => `nccl-job-${name}`;
/** One attempt's Job and Service name: a new name per attempt, so a new one never waits on the old one's deletion. */
export const attemptName = (name: string, attempt: number) => `${name}-a${attempt}`;
