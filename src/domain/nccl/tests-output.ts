/**
 * Parser for nccl-tests' text output (NVIDIA/nccl-tests src/common.cu and util.cu, v2.x): the results table of
 * any collective, its footer lines and the failure lines. The log of a run may interleave NCCL_DEBUG lines
 * and launcher noise; only lines in nccl-tests' own formats are read. Output that stops before the footer,
 * or whose table rows do not have nccl-tests' shape, is rejected with an NcclParseError naming the line.
 * tests-json.ts reads the same results from the JSON file `-J` writes, into the same shape, judged by the
 * same checks (`checkResult`).
 */

export class NcclParseError extends Error {
  override name = 'NcclParseError';
}

export interface NcclMeasurement {
  timeUs: number;
  algBwGBps: number;
  busBwGBps: number;
  /** null when the run skipped checking (`-c 0`, printed `N/A`). */
  wrong: number | null;
}

export interface NcclRow {
  sizeBytes: number;
  count: number;
  type: string;
  redop: string;
  root: number;
  outOfPlace: NcclMeasurement;
  inPlace: NcclMeasurement;
}

export interface NcclRank {
  rank: number;
  host: string;
  device: number;
  gpu: string;
}

export interface NcclTestsResult {
  /** Which output was read: the text table, or the JSON file of `-J` (nccl-tests 2.19 and later). */
  format: 'text' | 'json';
  /** `# nccl-tests version X` (absent in older builds, and in the JSON file, which does not carry it). */
  version?: string;
  /** The NCCL library the run used (`nccl-library=22809` in the text, `nccl_version` in the JSON), as 2.28.9. */
  ncclVersion?: string;
  /** From `# Collective test starting:` or `concluded:` (absent in older builds). */
  collective?: string;
  ranks: NcclRank[];
  rows: NcclRow[];
  /** `# Avg bus bandwidth` (mean busbw of every row, out-of-place and in-place); absent when the run died. */
  avgBusBwGBps?: number;
  /** `# Out of bounds values : N OK|FAILED`. */
  outOfBounds?: { count: number; ok: boolean };
  concluded: boolean;
  /** Failure lines (`Test NCCL failure`, `Test CUDA failure`, `Test timeout`, a failed footer). */
  failures: string[];
}

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const FIELDS_PER_ROW = 13;

function number(field: string, what: string, lineNo: number): number {
  if (!NUMBER.test(field)) throw new NcclParseError(`corrupted output: line ${lineNo}: ${what} "${field}" is not a number`);
  return Number(field);
}

function measurement(fields: string[], lineNo: number): NcclMeasurement {
  const [time, algbw, busbw, wrong] = fields as [string, string, string, string];
  return {
    timeUs: number(time, 'time', lineNo),
    algBwGBps: number(algbw, 'algbw', lineNo),
    busBwGBps: number(busbw, 'busbw', lineNo),
    wrong: wrong === 'N/A' ? null : number(wrong, '#wrong', lineNo),
  };
}

function parseRow(line: string, lineNo: number): NcclRow {
  const fields = line.trim().split(/\s+/);
  if (fields.length !== FIELDS_PER_ROW) {
    throw new NcclParseError(`corrupted output: line ${lineNo} has ${fields.length} fields, a results row has ${FIELDS_PER_ROW}: "${line.trim()}"`);
  }
  const [size, count, type, redop, root] = fields as [string, string, string, string, string];
  return {
    sizeBytes: number(size, 'size', lineNo),
    count: number(count, 'count', lineNo),
    type,
    redop,
    root: number(root, 'root', lineNo),
    outOfPlace: measurement(fields.slice(5, 9), lineNo),
    inPlace: measurement(fields.slice(9, 13), lineNo),
  };
}

const FAILURE_LINE = /Test (NCCL|CUDA) failure|Test timeout|: Test failure /;

/** The failure lines nccl-tests printed (`Test NCCL failure ...`, `Test timeout`, ` .. host pid N: Test failure ...`). */
export const failureLines = (text: string) =>
  text
    .split('\n')
    .filter((line) => FAILURE_LINE.test(line))
    .map((line) => line.trim());
const RANK_LINE = /^#\s+Rank\s+(\d+)\s+Group\s+\d+\s+Pid\s+\d+\s+on\s+(\S+)\s+device\s+(\d+)\s+\[[^\]]*\]\s+(.+?)\s*$/;
const TABLE_HEADER = /^#\s+size\s+count\s+type\s+redop\s+root\s+time\s+algbw\s+busbw/;
/** A table row starts with a byte count; NCCL_DEBUG lines start with `host:pid:tid`. */
const ROW_START = /^\s*\d+\s/;

/** NCCL's version code (NCCL_VERSION(X,Y,Z): X*10000+Y*100+Z since 2.9, X*1000+Y*100+Z before) as X.Y.Z. */
export function ncclVersionName(code: number): string {
  const [major, rest] = code >= 10_000 ? [Math.floor(code / 10_000), code % 10_000] : [Math.floor(code / 1000), code % 1000];
  return `${major}.${Math.floor(rest / 100)}.${rest % 100}`;
}

const VERSION_LINE = /^# nccl-tests version (\S+)(?:.*\bnccl-library=(\d+))?/m;

/** The versions nccl-tests prints first (`# nccl-tests version 2.18.3 nccl-headers=22809 nccl-library=22809`). */
export function versionsInHeader(text: string): Pick<NcclTestsResult, 'version' | 'ncclVersion'> {
  const m = text.match(VERSION_LINE);
  return m ? { version: m[1], ncclVersion: m[2] === undefined ? undefined : ncclVersionName(Number(m[2])) } : {};
}

export function parseNcclTests(text: string): NcclTestsResult {
  const result: NcclTestsResult = { format: 'text', ...versionsInHeader(text), ranks: [], rows: [], concluded: false, failures: [] };
  let inTable = false;
  let sawHeader = false;
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    const lineNo = index + 1;
    let m: RegExpMatchArray | null;
    if (FAILURE_LINE.test(line)) {
      result.failures.push(line.trim());
      return;
    }
    if (line.startsWith('#')) {
      if ((m = line.match(/^# Collective test starting: (\S+)/))) result.collective = m[1];
      else if ((m = line.match(/^# Collective test concluded: (\S+)/))) {
        result.collective ??= m[1];
        result.concluded = true;
      } else if ((m = line.match(RANK_LINE))) {
        result.ranks.push({ rank: Number(m[1]), host: m[2]!, device: Number(m[3]), gpu: m[4]! });
      } else if (TABLE_HEADER.test(line)) {
        inTable = true;
        sawHeader = true;
      } else if ((m = line.match(/^# Out of bounds values\s*:\s*(\S+)\s*(OK|FAILED)?/))) {
        inTable = false;
        result.outOfBounds = { count: number(m[1]!, 'out of bounds count', lineNo), ok: m[2] !== 'FAILED' };
        if (!result.outOfBounds.ok || result.outOfBounds.count > 0) result.failures.push(line.trim());
      } else if ((m = line.match(/^# Avg bus bandwidth\s*:\s*(\S+)\s*(OK|FAILED)?/))) {
        inTable = false;
        result.avgBusBwGBps = number(m[1]!, 'average bus bandwidth', lineNo);
        if (m[2] === 'FAILED') result.failures.push(line.trim());
      }
      return;
    }
    if (inTable && ROW_START.test(line)) result.rows.push(parseRow(line, lineNo));
  });

  if (!sawHeader) throw new NcclParseError('not nccl-tests output: no results table header ("#  size  count  type ...")');
  const lastLineNo = lines.length - (lines.at(-1) === '' ? 1 : 0);
  return checkResult(result, `no "# Avg bus bandwidth" line (output ends at line ${lastLineNo})`);
}

/**
 * What every format's result must pass once read: a run that neither finished (the average bus bandwidth)
 * nor failed (a failure) was cut short (`whatIsMissing` says how that shows in its format); the average must
 * be the rows' and the sizes must grow, or the output was corrupted. Wrong results become failures.
 */
export function checkResult(result: NcclTestsResult, whatIsMissing: string): NcclTestsResult {
  if (result.avgBusBwGBps === undefined && result.failures.length === 0) {
    throw new NcclParseError(`truncated output: ${result.rows.length} result rows and ${whatIsMissing}`);
  }
  if (result.avgBusBwGBps !== undefined) {
    if (result.rows.length === 0) throw new NcclParseError('corrupted output: an average bus bandwidth but no result rows');
    checkAverage(result);
    checkSizes(result.rows);
  }
  for (const row of result.rows) {
    for (const [name, m] of [
      ['out-of-place', row.outOfPlace],
      ['in-place', row.inPlace],
    ] as const) {
      if (m.wrong !== null && m.wrong > 0) result.failures.push(`${m.wrong} wrong results ${name} at ${row.sizeBytes} bytes`);
    }
  }
  return result;
}

/** The footer's average is the mean of the printed busbw values, up to their rounding (2 decimals). */
function checkAverage(result: NcclTestsResult) {
  const values = result.rows.flatMap((row) => [row.outOfPlace.busBwGBps, row.inPlace.busBwGBps]);
  const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
  const tolerance = 0.01 + 0.01 * mean;
  if (Math.abs(mean - result.avgBusBwGBps!) > tolerance) {
    throw new NcclParseError(
      `corrupted output: the average bus bandwidth says ${result.avgBusBwGBps} but the ${result.rows.length} rows average ${mean.toFixed(3)}`,
    );
  }
}

function checkSizes(rows: NcclRow[]) {
  for (let i = 1; i < rows.length; i++) {
    if (rows[i]!.sizeBytes < rows[i - 1]!.sizeBytes) {
      throw new NcclParseError(`corrupted output: row sizes go down (${rows[i - 1]!.sizeBytes} then ${rows[i]!.sizeBytes})`);
    }
  }
}
