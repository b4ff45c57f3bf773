import { parseNcclDebug } from './debug-log.js';
import type { GdrState, NcclNetworkFacts } from './debug-log.js';
import { parseNcclTestsOutput } from './tests-json.js';
import type { NcclTestsResult } from './tests-output.js';

/** The DGX Sparks' 200 Gb/s ConnectX-7 link, in the GB/s nccl-tests prints. */
export const LINE_RATE_GBPS = 25;
/** A peak busbw this much below the baseline's is a regression. */
export const DEFAULT_REGRESSION_TOLERANCE = 0.1;

export interface NcclBaseline {
  peakBusBwGBps: number;
  /** Fraction below the baseline that still counts as no regression (default 0.1). */
  tolerance?: number;
}

export interface NcclSummary {
  /** The nccl-tests output read: the text table or the JSON file (`-J`). */
  format: NcclTestsResult['format'];
  ncclTestsVersion?: string;
  ncclVersion?: string;
  collective: string;
  ranks: number;
  hosts: string[];
  /** The GPU models the ranks ran on. */
  gpus: string[];
  rows: number;
  passed: boolean;
  failures: string[];
  peakBusBwGBps: number;
  /** The largest message size's busbw is where the link is saturated; nccl-tests' own average is below. */
  peakAtBytes: number;
  avgBusBwGBps: number | null;
  lineRateGBps: number;
  lineRateFraction: number;
  transport: NcclNetworkFacts['transport'];
  /** HCA names NCCL used (the most any host listed). */
  hcas: string[];
  gdr: GdrState;
  /** The smallest active IB/RoCE MTU NCCL reported, in bytes (needs NCCL_DEBUG_SUBSYS with NET). */
  ibMtuBytes?: number;
  regression?: { baselinePeakBusBwGBps: number; ratio: number; regressed: boolean };
  warnings: string[];
}

export interface SummaryOptions {
  lineRateGBps?: number;
  baseline?: NcclBaseline;
}

/** Parses a whole rank 0 log (nccl-tests text or JSON output, optionally with NCCL_DEBUG=INFO lines) and judges it. */
export function summarizeNcclLog(text: string, options: SummaryOptions = {}): NcclSummary {
  return summarize(parseNcclTestsOutput(text), parseNcclDebug(text), options);
}

export function summarize(result: NcclTestsResult, network: NcclNetworkFacts, options: SummaryOptions = {}): NcclSummary {
  const lineRateGBps = options.lineRateGBps ?? LINE_RATE_GBPS;
  let peak = 0;
  let peakAtBytes = 0;
  for (const row of result.rows) {
    const best = Math.max(row.outOfPlace.busBwGBps, row.inPlace.busBwGBps);
    if (best > peak) [peak, peakAtBytes] = [best, row.sizeBytes];
  }
  const hcas = Object.values(network.hcas).reduce<string[]>((most, list) => (list.length > most.length ? list.map((h) => h.name) : most), []);
  const summary: NcclSummary = {
    format: result.format,
    ncclTestsVersion: result.version,
    ncclVersion: result.ncclVersion,
    collective: result.collective ?? 'unknown',
    ranks: result.ranks.length,
    hosts: [...new Set(result.ranks.map((r) => r.host))],
    gpus: [...new Set(result.ranks.map((r) => r.gpu))],
    rows: result.rows.length,
    passed: result.failures.length === 0,
    failures: result.failures,
    peakBusBwGBps: peak,
    peakAtBytes,
    avgBusBwGBps: result.avgBusBwGBps ?? null,
    lineRateGBps,
    lineRateFraction: round(peak / lineRateGBps),
    transport: network.transport,
    hcas,
    gdr: network.gdr,
    ibMtuBytes: network.ibMtuBytes,
    warnings: [],
  };
  if (options.baseline) {
    const ratio = options.baseline.peakBusBwGBps > 0 ? peak / options.baseline.peakBusBwGBps : 1;
    const tolerance = options.baseline.tolerance ?? DEFAULT_REGRESSION_TOLERANCE;
    summary.regression = { baselinePeakBusBwGBps: options.baseline.peakBusBwGBps, ratio: round(ratio), regressed: ratio < 1 - tolerance };
  }
  summary.warnings = warningsFor(summary, network);
  return summary;
}

function warningsFor(summary: NcclSummary, network: NcclNetworkFacts): string[] {
  const warnings: string[] = [];
  if (network.debugLines === 0) {
    warnings.push('no NCCL_DEBUG=INFO lines: the transport, HCAs and GPU Direct RDMA cannot be confirmed (run with NCCL_DEBUG=INFO)');
  } else {
    if (network.transport === 'Socket') {
      warnings.push('NCCL used the socket transport, not IB/RoCE: the RDMA path was not used (check the VF, NCCL_IB_DISABLE, the HCAs)');
    }
    if (network.transport === 'IB' && summary.hcas.length === 1) {
      warnings.push(`NCCL used one HCA (${summary.hcas[0]}): a QSFP port shows up as two ~100 Gb/s RoCE HCAs, expect about half the link (~11-12 GB/s)`);
    }
    if (network.gdr === 'disabled') {
      warnings.push('GPU Direct RDMA disabled: expected on GB10 (DGX Spark has no GPUDirect RDMA; NCCL_NET_GDR_LEVEL changes nothing)');
    }
  }
  if (summary.rows > 0 && summary.lineRateFraction < 0.5) {
    warnings.push(`peak busbw ${summary.peakBusBwGBps} GB/s is ${Math.round(summary.lineRateFraction * 100)}% of the ${summary.lineRateGBps} GB/s line rate`);
  }
  if (summary.regression?.regressed) {
    warnings.push(
      `regression: peak busbw ${summary.peakBusBwGBps} GB/s is ${Math.round(summary.regression.ratio * 100)}% of the baseline ${summary.regression.baselinePeakBusBwGBps} GB/s`,
    );
  }
  return warnings;
}

const round = (value: number) => Math.round(value * 1000) / 1000;

export function renderSummary(summary: NcclSummary): string {
  const lines = [
    `${summary.collective}: ${summary.passed ? 'passed' : 'FAILED'}, ${summary.ranks} ranks on ${summary.hosts.join(', ') || 'unknown hosts'}, ${summary.rows} sizes`,
    `peak busbw ${summary.peakBusBwGBps} GB/s at ${summary.peakAtBytes} bytes (${Math.round(summary.lineRateFraction * 100)}% of ${summary.lineRateGBps} GB/s); average ${summary.avgBusBwGBps ?? 'n/a'} GB/s`,
    `transport ${summary.transport}, HCAs ${summary.hcas.join(', ') || 'none listed'}, GPU Direct RDMA ${summary.gdr}`,
    `read from nccl-tests ${summary.ncclTestsVersion ?? '(version not printed)'} ${summary.format} output, NCCL ${summary.ncclVersion ?? 'unknown'}`,
  ];
  if (summary.regression) {
    lines.push(
      `baseline ${summary.regression.baselinePeakBusBwGBps} GB/s: ratio ${summary.regression.ratio}${summary.regression.regressed ? ' REGRESSED' : ''}`,
    );
  }
  for (const failure of summary.failures) lines.push(`failure: ${failure}`);
  for (const warning of summary.warnings) lines.push(`warning: ${warning}`);
  return lines.join('\n');
}
