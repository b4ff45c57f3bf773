import { jobManifest, serviceManifest } from '../../src/activities/nccl/manifests.js';
import { JSON_RESULTS_BEGIN, JSON_RESULTS_END } from '../../src/domain/nccl/tests-json.js';
import { NcclJobInput } from '../../src/schemas/nccl-job.js';
import { describeIssues } from '../../src/schemas/validate.js';

const spec = (input: Record<string, unknown>) =>
  NcclJobInput.parse({ name: 'allreduce', kind: 'benchmark', image: 'ghcr.io/example/nccl-tests:2.18.3', ...input });

test('a benchmark: Indexed Job done when index 0 is, pods spread over the two Sparks with GPU, VF, Multus and NCCL env', () => {
  const job = jobManifest({ spec: spec({ ncclEnv: { NCCL_IB_HCA: 'rocep1s0f1,roceP2p1s0f1', NCCL_DEBUG: 'WARN' } }), attempt: 2 });
  expect(job.metadata).toMatchObject({
    name: 'allreduce-a2',
    namespace: 'nccl',
    labels: { 'cluster-ops.wcloud.sh/nccl-job': 'allreduce', 'cluster-ops.wcloud.sh/attempt': '2' },
  });
  expect(job.spec).toMatchObject({
    completionMode: 'Indexed',
    completions: 2,
    parallelism: 2,
    backoffLimit: 0,
    successPolicy: { rules: [{ succeededIndexes: '0' }] },
  });
  const pod = job.spec!.template;
  expect(pod.metadata!.annotations).toEqual({ 'k8s.v1.cni.cncf.io/networks': 'dgx-qsfp' });
  expect(pod.spec!.subdomain).toBe('allreduce-a2');
  expect(pod.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms[0]!.matchExpressions![0]!.values).toEqual([
    'talos-7aj-lwl',
    'talos-ysi-4k0',
  ]);
  expect(pod.spec!.affinity!.podAntiAffinity!.requiredDuringSchedulingIgnoredDuringExecution![0]!.topologyKey).toBe('kubernetes.io/hostname');
  const container = pod.spec!.containers[0]!;
  expect(container.resources!.limits).toEqual({ 'nvidia.com/gpu': '1', 'nvidia.com/cx7_qsfp': '1' });
  expect(Object.fromEntries(container.env!.map((e) => [e.name, e.value]))).toEqual({
    NCCL_SOCKET_IFNAME: 'net1',
    NCCL_IB_DISABLE: '0',
    NCCL_NET_GDR_LEVEL: '5',
    NCCL_DEBUG: 'WARN',
    NCCL_IB_HCA: 'rocep1s0f1,roceP2p1s0f1',
  });
  const script = container.command![2]!;
  expect(script).toContain('-H allreduce-a2-0.allreduce-a2:1,allreduce-a2-1.allreduce-a2:1');
  expect(script).toContain('-x NCCL_IB_HCA');
  expect(script.split('\n').at(-1)).toMatch(/^exec mpirun .* \/opt\/nccl-tests\/build\/all_reduce_perf -b 8 -e 16G -f 2 -g 1 -n 20 -w 5 -c 1$/);
  expect(serviceManifest({ spec: spec({}), attempt: 2 }).spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
});

test('JSON output: nccl-tests writes -J, the launcher prints the file between the markers the parser looks for and exits as mpirun did', () => {
  const script = jobManifest({ spec: spec({ benchmark: { output: 'json' } }), attempt: 1 }).spec!.template.spec!.containers[0]!.command![2]!;
  const lines = script.split('\n');
  expect(lines.at(-3)).toMatch(/^status=0; mpirun .* -c 1 -J \/tmp\/nccl-tests\.json \|\| status=\$\?$/);
  expect(lines.at(-2)).toBe(`echo '${JSON_RESULTS_BEGIN}'; cat /tmp/nccl-tests.json 2>/dev/null || true; echo; echo '${JSON_RESULTS_END}'`);
  expect(lines.at(-1)).toBe('exit $status');
});

test('training: torchrun with the rank from JOB_COMPLETION_INDEX, the checkpoint claim mounted, RESUME_FROM set', () => {
  const job = jobManifest({
    spec: spec({ kind: 'training', training: { command: ['train.py', '--name', "it's"], checkpointClaim: 'llm-ckpt' } }),
    attempt: 3,
    resumeFrom: '/checkpoints/ckpt-000200',
  });
  expect(job.spec!.successPolicy).toBeUndefined();
  const container = job.spec!.template.spec!.containers[0]!;
  expect(container.command![2]).toContain(
    'torchrun --nnodes=2 --nproc-per-node=1 --node-rank="$JOB_COMPLETION_INDEX" --master-addr=allreduce-a3-0.allreduce-a3',
  );
  expect(container.command![2]).toContain(`'train.py' '--name' 'it'\\''s'`);
  expect(container.env).toEqual(
    expect.arrayContaining([
      { name: 'RESUME_FROM', value: '/checkpoints/ckpt-000200' },
      { name: 'CHECKPOINT_DIR', value: '/checkpoints' },
    ]),
  );
  expect(job.spec!.template.spec!.volumes).toContainEqual({ name: 'checkpoints', persistentVolumeClaim: { claimName: 'llm-ckpt' } });
});

test('the input names each bad field', () => {
  const result = NcclJobInput.safeParse({ name: 'x', kind: 'training', image: 'i', nodes: ['a', 'a'], ncclEnv: { 'bad-name': '1' } });
  expect(result.success).toBe(false);
  const message = describeIssues(result.error!);
  expect(message).toContain('input.training: required when kind is training');
  expect(message).toContain('input.nodes: must not repeat a node');
  expect(message).toContain('input.ncclEnv.bad-name');
});
