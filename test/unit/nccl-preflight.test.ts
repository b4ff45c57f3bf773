import { readFileSync } from 'node:fs';
import { jobManifest } from '../../src/activities/nccl/manifests.js';
import { judgePreflight, PREFLIGHT_IMAGE, preflightEnabled, preflightSpec } from '../../src/domain/nccl/preflight.js';
import { summarizeNcclLog } from '../../src/domain/nccl/summary.js';
import { NcclJobInput } from '../../src/schemas/nccl-job.js';

// Real outputs (test/fixtures/nccl/README.md); the variants change one debug line each, as a misconfigured pair would print it.
const fixture = (name: string) => readFileSync(`test/fixtures/nccl/${name}`, 'utf8');
const DEBUG = fixture('nccl-debug-2xDGX-Spark.log');
const SPARK = fixture('all_gather-2xDGX-Spark-degraded.txt');
const H100 = fixture('all_reduce-2nodes-8xH100.txt');
/** A RoCE queue pair's line as NCCL logs it with NCCL_DEBUG_SUBSYS=NET (net_ib.cc); `mtu 3` is 1024 bytes. */
const qpLine = (mtu: number) => `spark-4440:24302:24302 [0] NCCL INFO NET/IB: NCCL Dev 0 IbDev 0 Port 1 qpn 1031 mtu ${mtu} GID 3 (0/6410A8C0FFFF0000)\n`;
const judge = (log: string, threshold = 15) => judgePreflight(summarizeNcclLog(log), threshold);

test.each([
  [
    'the degraded Spark pair: IB over both HCAs, GDR off as on every GB10: nothing in the debug lines, so the link itself',
    `${DEBUG}${SPARK}`,
    [/^transport, HCAs and MTU look right: check the link itself/],
  ],
  ['only one of the two HCAs', `${DEBUG.replace(' [1]roceP2p1s0f1:1/RoCE', '')}${SPARK}`, [/^one HCA \(rocep1s0f1\): half of the QSFP port/]],
  ['the socket transport', `${DEBUG.replace('Using network IB', 'Using network Socket')}${SPARK}`, [/^Socket transport: NCCL fell back to TCP/]],
  ['a RoCE MTU of 1024 (Ethernet MTU 1500)', `${DEBUG}${qpLine(5)}${qpLine(3)}${SPARK}`, [/^RoCE MTU 1024: the link's MTU is below 9000/]],
  ['no debug lines', SPARK, [/^no NCCL_DEBUG=INFO lines: the cause cannot be told/]],
])('below the threshold, the likely cause: %s', (_name, log, causes) => {
  const verdict = judge(log);
  expect(verdict).toMatchObject({ passed: false, peakBusBwGBps: 2.83, thresholdGBps: 15 });
  expect(verdict.likelyCauses).toEqual(causes.map((c) => expect.stringMatching(c)));
});

test('GPU Direct RDMA off is a likely cause only where the GPU has it (not on GB10)', () => {
  const verdict = judge(`${DEBUG}${H100}`, 400);
  expect(verdict.likelyCauses).toEqual([expect.stringMatching(/^GPU Direct RDMA disabled/)]);
});

test('at or above the threshold the attempt may start, with the measurement kept', () => {
  expect(judge(`${DEBUG}${qpLine(5)}${H100}`)).toEqual({
    passed: true,
    peakBusBwGBps: 338.82,
    thresholdGBps: 15,
    transport: 'IB',
    hcas: ['rocep1s0f1', 'roceP2p1s0f1'],
    ibMtuBytes: 4096,
    likelyCauses: [],
  });
});

test('the preflight job: a short all_reduce of its own name on the job nodes, with NCCL debug lines for the diagnosis', () => {
  const spec = NcclJobInput.parse({
    name: 'llm',
    kind: 'training',
    image: 'nvcr.io/nvidia/pytorch:25.01-py3',
    training: { command: ['t.py'], checkpointClaim: 'c' },
    ncclEnv: { NCCL_IB_GID_INDEX: '3' },
  });
  expect(preflightEnabled(spec)).toBe(true);
  expect(preflightEnabled(NcclJobInput.parse({ name: 'b', kind: 'benchmark', image: 'i' }))).toBe(false);
  const check = preflightSpec(spec);
  expect(check).toMatchObject({ name: 'llm-preflight', kind: 'benchmark', image: PREFLIGHT_IMAGE, nodes: spec.nodes, attemptTimeoutSeconds: 300 });
  const container = jobManifest({ spec: check, attempt: 1 }).spec!.template.spec!.containers[0]!;
  expect(container.command![2]!.split('\n').at(-1)).toMatch(/all_reduce_perf -b 1G -e 1G -f 2 -g 1 -n 10 -w 2 -c 0$/);
  expect(Object.fromEntries(container.env!.map((e) => [e.name, e.value]))).toMatchObject({
    NCCL_IB_HCA: 'rocep1s0f1,roceP2p1s0f1',
    NCCL_IB_GID_INDEX: '3',
    NCCL_DEBUG: 'INFO',
    NCCL_DEBUG_SUBSYS: 'INIT,NET',
  });
  expect(container.volumeMounts).toContainEqual({ name: 'ssh', mountPath: '/root/.ssh', readOnly: true });
});
