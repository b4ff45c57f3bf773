import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseNcclDebug } from '../../src/domain/nccl/debug-log.js';
import { summarizeNcclLog } from '../../src/domain/nccl/summary.js';
import { NcclParseError, parseNcclTests } from '../../src/domain/nccl/tests-output.js';

// Real outputs (test/fixtures/nccl/README.md says where each comes from); error cases cut or alter copies.
const fixture = (name: string) => readFileSync(join('test/fixtures/nccl', name), 'utf8');
const H100 = fixture('all_reduce-2nodes-8xH100.txt');
const SPARK = fixture('all_gather-2xDGX-Spark-degraded.txt');
const DEBUG = fixture('nccl-debug-2xDGX-Spark.log');

describe('nccl-tests tables', () => {
  test.each([
    ['all_reduce 2x8 H100 (older header)', H100, { collective: undefined, version: undefined, ranks: 16, rows: 31, avg: 70.742, concluded: false }],
    ['all_gather 2x DGX Spark', SPARK, { collective: 'all_gather_perf', version: '2.18.3', ranks: 2, rows: 3, avg: 2.82151, concluded: true }],
  ])('%s', (_name, text, want) => {
    const result = parseNcclTests(text);
    expect(result.collective).toBe(want.collective);
    expect(result.version).toBe(want.version);
    expect(result.ranks).toHaveLength(want.ranks);
    expect(result.rows).toHaveLength(want.rows);
    expect(result.avgBusBwGBps).toBe(want.avg);
    expect(result.concluded).toBe(want.concluded);
    expect(result.outOfBounds).toEqual({ count: 0, ok: true });
    expect(result.failures).toEqual([]);
  });

  test('every column of a row, out-of-place and in-place', () => {
    const result = parseNcclTests(H100);
    expect(result.rows.at(-1)).toEqual({
      sizeBytes: 8589934592,
      count: 2147483648,
      type: 'float',
      redop: 'sum',
      root: -1,
      outOfPlace: { timeUs: 47535, algBwGBps: 180.71, busBwGBps: 338.82, wrong: 0 },
      inPlace: { timeUs: 47743, algBwGBps: 179.92, busBwGBps: 337.35, wrong: 0 },
    });
    expect(result.ranks[8]).toEqual({ rank: 8, host: 'ztan-mig-gq73', device: 0, gpu: 'NVIDIA H100 80GB HBM3' });
    const spark = parseNcclTests(SPARK);
    expect(spark.rows[0]).toMatchObject({ redop: 'none', root: -1, outOfPlace: { timeUs: 191408, busBwGBps: 2.8 } });
  });

  test('N/A #wrong (run with -c 0) and numbers in exponent form', () => {
    const altered = SPARK.replace(/ {7}0 {3}190310/, '     N/A   1.9031e+05').replace(/ {7}0\n {2}2147483648/, '     N/A\n  2147483648');
    const row = parseNcclTests(altered).rows[0]!;
    expect(row.outOfPlace.wrong).toBeNull();
    expect(row.inPlace).toEqual({ timeUs: 190310, algBwGBps: 5.64, busBwGBps: 2.82, wrong: null });
  });

  test('wrong results, out-of-bounds values and a FAILED average are failures', () => {
    const wrong = parseNcclTests(SPARK.replace(/2\.83 {7}0\n {2}4294967296/, '2.83       7\n  4294967296'));
    expect(wrong.failures).toEqual(['7 wrong results in-place at 2147483648 bytes']);
    const bounds = parseNcclTests(SPARK.replace('Out of bounds values : 0 OK', 'Out of bounds values : 3 FAILED'));
    expect(bounds.failures).toEqual(['# Out of bounds values : 3 FAILED']);
    const avg = parseNcclTests(SPARK.replace('2.82151 ', '2.82151 FAILED'));
    expect(avg.failures).toEqual(['# Avg bus bandwidth    : 2.82151 FAILED']);
  });

  test('a run that died with an NCCL failure line is a failed result, not a parse error', () => {
    const cut = SPARK.split('\n').slice(0, 12).join('\n');
    const died = `${cut}\nspark-fb97: Test NCCL failure common.cu:1125 'remote process exited or there was a network error / '\n .. spark-fb97 pid 548805: Test failure common.cu:1034\n`;
    const result = parseNcclTests(died);
    expect(result.rows).toHaveLength(1);
    expect(result.avgBusBwGBps).toBeUndefined();
    expect(result.failures).toHaveLength(2);
    expect(result.failures[0]).toContain('Test NCCL failure');
  });
});

describe('rejects truncated and corrupted output', () => {
  const lines = H100.split('\n');
  test.each([
    ['cut after a few rows', lines.slice(0, 30).join('\n'), /truncated output: 7 result rows and no "# Avg bus bandwidth" line/],
    ['cut in the middle of a row', `${lines.slice(0, 40).join('\n')}\n${lines[40]!.slice(0, 60)}`, /corrupted output: line 41 has 6 fields/],
    ['a garbled number', H100.replace('1652.2', '16x2.2'), /line \d+: time "16x2.2" is not a number/],
    ['an average that does not match the rows', H100.replace('70.742', '90.742'), /says 90.742 but the 31 rows average 70.7/],
    ['rows out of order', H100.replace(/^ +16 +4 +float/m, '     1600000             4     float'), /row sizes go down/],
    ['no table at all', DEBUG, /not nccl-tests output/],
    ['empty', '', /not nccl-tests output/],
  ])('%s', (_name, text, message) => {
    expect(() => parseNcclTests(text)).toThrow(NcclParseError);
    expect(() => parseNcclTests(text)).toThrow(message);
  });
});

describe('NCCL_DEBUG=INFO', () => {
  test('two DGX Sparks: IB transport over two RoCE HCAs, GPU Direct RDMA disabled', () => {
    const facts = parseNcclDebug(DEBUG);
    expect(facts.transport).toBe('IB');
    expect(facts.hcas['spark-4440']).toEqual([
      { index: 0, name: 'rocep1s0f1', port: 1, linkLayer: 'RoCE' },
      { index: 1, name: 'roceP2p1s0f1', port: 1, linkLayer: 'RoCE' },
    ]);
    expect(facts.gdr).toBe('disabled');
    expect(facts.netChannels).toBe(2);
    expect(facts.gdrChannels).toBe(0);
  });

  test('socket transport and a single HCA are told apart', () => {
    const oneHca = DEBUG.replace(' [1]roceP2p1s0f1:1/RoCE', '');
    expect(parseNcclDebug(oneHca).hcas['spark-4440']).toHaveLength(1);
    const socket = DEBUG.replace('Using network IB', 'Using network Socket');
    expect(parseNcclDebug(socket).transport).toBe('Socket');
    expect(parseNcclDebug(H100)).toMatchObject({ debugLines: 0, transport: 'unknown', gdr: 'unknown' });
  });
});

describe('summary', () => {
  test('a DGX Spark run: both HCAs, GDR off reported as expected, the degraded bandwidth flagged', () => {
    const summary = summarizeNcclLog(`${DEBUG}${SPARK}`, { baseline: { peakBusBwGBps: 21 } });
    expect(summary).toMatchObject({
      collective: 'all_gather_perf',
      passed: true,
      hosts: ['spark-fb97', 'spark-4440'],
      peakBusBwGBps: 2.83,
      peakAtBytes: 2147483648,
      avgBusBwGBps: 2.82151,
      lineRateFraction: 0.113,
      transport: 'IB',
      hcas: ['rocep1s0f1', 'roceP2p1s0f1'],
      gdr: 'disabled',
      regression: { baselinePeakBusBwGBps: 21, ratio: 0.135, regressed: true },
    });
    expect(summary.warnings).toEqual([
      expect.stringContaining('GPU Direct RDMA disabled: expected on GB10'),
      expect.stringContaining('11% of the 25 GB/s line rate'),
      expect.stringContaining('regression: peak busbw 2.83 GB/s is 14% of the baseline 21 GB/s'),
    ]);
  });

  test('one HCA and the socket transport are warned about', () => {
    const oneHca = summarizeNcclLog(`${DEBUG.replace(' [1]roceP2p1s0f1:1/RoCE', '')}${SPARK}`);
    expect(oneHca.warnings[0]).toContain('NCCL used one HCA (rocep1s0f1)');
    const socket = summarizeNcclLog(`${DEBUG.replace('Using network IB', 'Using network Socket')}${SPARK}`);
    expect(socket.warnings[0]).toContain('socket transport');
  });

  test('without debug lines the transport is unknown, and a good baseline is no regression', () => {
    const summary = summarizeNcclLog(H100, { lineRateGBps: 400, baseline: { peakBusBwGBps: 340 } });
    expect(summary).toMatchObject({ peakBusBwGBps: 338.82, lineRateFraction: 0.847, regression: { regressed: false } });
    expect(summary.warnings).toEqual([expect.stringContaining('no NCCL_DEBUG=INFO lines')]);
  });
});
