import type { NcclJobSpec } from '../../schemas/nccl-job.js';
import type { NcclSummary } from './summary.js';

/**
 * The bandwidth preflight: a short all_reduce_perf across the pair before an attempt, so that a training run
 * never spends hours on a slow link. On two DGX Sparks the link is rarely broken, often slow: about 3 GB/s
 * when NCCL falls back to TCP, 11-12 GB/s on one of the port's two halves, 19-24 GB/s with both HCAs and
 * MTU 9000. Below the threshold the attempt does not start, and the verdict names the likely causes read
 * from NCCL's debug lines.
 */

export interface PreflightVerdict {
  passed: boolean;
  peakBusBwGBps: number;
  thresholdGBps: number;
  transport: NcclSummary['transport'];
  hcas: string[];
  ibMtuBytes?: number;
  /** Below the threshold: what NCCL's debug lines point at, most likely first. */
  likelyCauses: string[];
}

/** RoCE's active MTU with an Ethernet MTU of 9000; 1500 gives 1024. */
const JUMBO_IB_MTU = 4096;

export function judgePreflight(summary: NcclSummary, thresholdGBps: number): PreflightVerdict {
  const passed = summary.passed && summary.peakBusBwGBps >= thresholdGBps;
  const verdict = {
    passed,
    peakBusBwGBps: summary.peakBusBwGBps,
    thresholdGBps,
    transport: summary.transport,
    hcas: summary.hcas,
    ibMtuBytes: summary.ibMtuBytes,
  };
  return { ...verdict, likelyCauses: passed ? [] : likelyCauses(summary) };
}

function likelyCauses(summary: NcclSummary): string[] {
  if (summary.transport === 'unknown')
    return ['no NCCL_DEBUG=INFO lines: the cause cannot be told (the preflight sets NCCL_DEBUG=INFO; did the image drop it?)'];
  const causes: string[] = [];
  if (summary.transport === 'Socket') {
    causes.push('Socket transport: NCCL fell back to TCP (about 3 GB/s): the pod sees no RDMA device, or NCCL_IB_DISABLE / NCCL_IB_HCA leave it out');
  } else if (summary.hcas.length === 1) {
    causes.push(
      `one HCA (${summary.hcas[0]}): half of the QSFP port (about 11-12 GB/s): list both in NCCL_IB_HCA and give each pod a VF on both halves (vfsPerPod 2)`,
    );
  }
  if (summary.ibMtuBytes !== undefined && summary.ibMtuBytes < JUMBO_IB_MTU) {
    causes.push(`RoCE MTU ${summary.ibMtuBytes}: the link's MTU is below 9000 (RoCE then runs at an IB MTU of 1024 or less)`);
  }
  // GB10 has no GPUDirect RDMA at all: there, GDR off is how it always runs, not a cause.
  if (summary.gdr === 'disabled' && !summary.gpus.every((gpu) => /GB10/.test(gpu))) {
    causes.push('GPU Direct RDMA disabled: data is staged through host memory (check nvidia-peermem and NCCL_NET_GDR_LEVEL)');
  }
  if (causes.length === 0) causes.push('transport, HCAs and MTU look right: check the link itself (cable, port speed, PFC/ECN, other traffic)');
  return causes;
}

/** The nccl-tests image the preflight runs when the job's own image is not one (training). */
export const PREFLIGHT_IMAGE = 'ghcr.io/willingham-cloud/nccl-tests:2.18.3-mpi';

/**
 * The preflight as a benchmark job of its own name, on the job's nodes, network, VFs and NCCL settings: a
 * short all_reduce_perf (no result check, a few iterations) with NCCL's INIT and NET debug lines on, which
 * carry the transport, HCAs, GDR and MTU.
 */
export function preflightSpec(spec: NcclJobSpec): NcclJobSpec {
  const preflight = spec.preflight;
  return {
    ...spec,
    name: `${spec.name}-preflight`,
    kind: 'benchmark',
    image: preflight.image ?? (spec.kind === 'benchmark' ? spec.image : PREFLIGHT_IMAGE),
    ncclEnv: { ...spec.ncclEnv, NCCL_DEBUG: 'INFO', NCCL_DEBUG_SUBSYS: 'INIT,NET' },
    benchmark: {
      ...spec.benchmark,
      test: 'all_reduce_perf',
      minBytes: preflight.maxBytes,
      maxBytes: preflight.maxBytes,
      iters: 10,
      warmupIters: 2,
      check: false,
      output: 'text',
    },
    training: undefined,
    attemptTimeoutSeconds: preflight.timeoutSeconds,
  };
}

/** Training checks the link first by default, benchmarks measure it anyway. */
export const preflightEnabled = (spec: NcclJobSpec) => spec.preflight.enabled ?? spec.kind === 'training';
