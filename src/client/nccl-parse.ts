import { NcclParseError } from '../domain/nccl/tests-output.js';
import { renderSummary, summarizeNcclLog } from '../domain/nccl/summary.js';
import { UsageError } from './usage.js';

/** `cluster-ops nccl parse`: the summary of a saved rank 0 log; ok is false when the run failed or regressed. */
export function parseNcclFile(text: string, options: { json: boolean; baseline?: string }): { output: string; ok: boolean } {
  const baseline = options.baseline === undefined ? undefined : Number(options.baseline);
  if (baseline !== undefined && !(baseline > 0)) throw new UsageError(`--baseline must be a positive GB/s figure, got "${options.baseline}"`);
  try {
    const summary = summarizeNcclLog(text, baseline ? { baseline: { peakBusBwGBps: baseline } } : {});
    return {
      output: options.json ? JSON.stringify(summary, null, 2) : renderSummary(summary),
      ok: summary.passed && !summary.regression?.regressed,
    };
  } catch (error) {
    if (error instanceof NcclParseError) throw new UsageError(error.message);
    throw error;
  }
}
