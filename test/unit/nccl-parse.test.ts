import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseNcclDebug } from '../../src/domain/nccl/debug-log.js';
import { summarizeNcclLog } from '../../src/domain/nccl/summary.js';
import { JSON_RESULTS_BEGIN, JSON_RESULTS_END, parseNcclTestsJson, parseNcclTestsOutput } from '../../src/domain/nccl/tests-json.js';
import { NcclParseError, parseNcclTests } from '../../src/domain/nccl/tests-output.js';

// Real outputs (test/fixtures/nccl/README.md says where each comes from); error cases cut or alter copies.
const fixture = (name: string) => readFileSync(join('test/fixtures/nccl', name), 'utf8');
const H100 = fixture('all_reduce-2nodes-8xH100.txt');
const SPARK = fixture('all_gather-2xDGX-Spark-degraded.txt');
const DEBUG = fixture('nccl-debug-2xDGX-Spark.log');
// The all_gather run's numbers in nccl-tests' -J JSON (derived, see the fixtures README).
const SPARK_JSON = fixture('all_gather-2xDGX-Spark-degraded.json');

describe('nccl-tests tables', () => {
  test.each([
    [
      'all_reduce 2x8 H100 (older header)',
      H100,
      { collective: undefined, version: undefined, nccl: undefined, ranks: 16, rows: 31, avg: 70.742, concluded: false },
    ],
    ['all_gather 2x DGX Spark', SPARK, { collective: 'all_gather_perf', version: '2.18.3', nccl: '2.28.9', ranks: 2, rows: 3, avg: 2.82151, concluded: true }],
  ])('%s', (_name, text, want) => {
    const result = parseNcclTests(text);
    expect(result.format).toBe('text');
    expect(result.collective).toBe(want.collective);
    expect(result.version).toBe(want.version);
    expect(result.ncclVersion).toBe(want.nccl);
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

describe('nccl-tests JSON (-J)', () => {
  type Doc = Record<string, unknown> & { results: Record<string, unknown>[] };
  const doc = () => JSON.parse(SPARK_JSON) as Doc;
  /** The run's document as nccl-tests closes it when a test fails: no footer, no end time. */
  const failedDoc = (errors: string[]) => {
    const d = doc();
    d.results = d.results.slice(0, 1);
    for (const key of ['out_of_bounds', 'average_bus_bandwidth', 'end_time']) delete d[key];
    d.errors = errors;
    return JSON.stringify(d);
  };

  test('the same run as the text table: every row, rank and figure, and the NCCL version', () => {
    const json = parseNcclTestsJson(SPARK_JSON);
    const text = parseNcclTests(SPARK);
    expect(json).toMatchObject({ format: 'json', collective: 'all_gather_perf', ncclVersion: '2.28.9', concluded: true, failures: [] });
    // The JSON does not carry the nccl-tests version.
    expect(json.version).toBeUndefined();
    expect(json.rows).toEqual(text.rows);
    expect(json.ranks).toEqual(text.ranks);
    expect([json.avgBusBwGBps, json.outOfBounds]).toEqual([text.avgBusBwGBps, text.outOfBounds]);
  });

  test('the format is told from the content: a JSON file, a log with the JSON printed between our markers, or text', () => {
    expect(parseNcclTestsOutput(SPARK_JSON).format).toBe('json');
    expect(parseNcclTestsOutput(SPARK).format).toBe('text');
    // What a benchmark pod run with output json prints: NCCL's debug lines, the text output, then the file.
    const log = `${DEBUG}${SPARK}${JSON_RESULTS_BEGIN}\n${SPARK_JSON}\n${JSON_RESULTS_END}\n`;
    expect(parseNcclTestsOutput(log)).toMatchObject({ format: 'json', version: '2.18.3', ncclVersion: '2.28.9', rows: parseNcclTests(SPARK).rows });
    // nccl-tests could not write the file (`# skipping json output`): the text table is still there.
    expect(parseNcclTestsOutput(`${SPARK}${JSON_RESULTS_BEGIN}\n\n${JSON_RESULTS_END}\n`).format).toBe('text');
  });

  test('the summary is the same whichever format was read', () => {
    const fromText = summarizeNcclLog(`${DEBUG}${SPARK}`, { baseline: { peakBusBwGBps: 21 } });
    const fromJson = summarizeNcclLog(`${DEBUG}${SPARK}${JSON_RESULTS_BEGIN}\n${SPARK_JSON}\n${JSON_RESULTS_END}\n`, { baseline: { peakBusBwGBps: 21 } });
    expect(fromJson).toEqual({ ...fromText, format: 'json' });
    expect(fromJson).toMatchObject({ ncclTestsVersion: '2.18.3', ncclVersion: '2.28.9', peakBusBwGBps: 2.83 });
  });

  test('wrong results, out-of-bounds values and a failed bandwidth check are failures', () => {
    const wrong = doc();
    (wrong.results[1]!.in_place as { nwrong: number }).nwrong = 7;
    expect(parseNcclTestsJson(JSON.stringify(wrong)).failures).toEqual(['7 wrong results in-place at 2147483648 bytes']);
    const bounds = doc();
    bounds.out_of_bounds = { count: 3, okay: 'false' };
    expect(parseNcclTestsJson(JSON.stringify(bounds)).failures).toEqual(['out of bounds values: 3']);
    const slow = doc();
    slow.average_bus_bandwidth = { bandwidth: 2.82151, okay: 'false' };
    expect(parseNcclTestsJson(JSON.stringify(slow)).failures).toEqual(['average bus bandwidth 2.82151 below the required minimum']);
  });

  test('a run that failed is a failed result: from its errors, or from the failure lines of its log', () => {
    const failed = parseNcclTestsJson(failedDoc(['remote process exited or there was a network error']));
    expect(failed).toMatchObject({ rows: [expect.anything()], avgBusBwGBps: undefined, concluded: false });
    expect(failed.failures).toEqual(['error: remote process exited or there was a network error']);
    const cut = SPARK.split('\n').slice(0, 12).join('\n');
    const log = `${cut}\nspark-fb97: Test NCCL failure common.cu:1125 'remote process exited or there was a network error / '\n${JSON_RESULTS_BEGIN}\n${failedDoc([])}\n${JSON_RESULTS_END}\n`;
    expect(parseNcclTestsOutput(log).failures).toEqual([expect.stringContaining('Test NCCL failure common.cu:1125')]);
  });

  const refused = (change: (d: Doc) => void) => {
    const d = doc();
    change(d);
    return JSON.stringify(d);
  };
  test.each([
    ['cut in the middle of the document', SPARK_JSON.slice(0, 900), /truncated output: the JSON document ends early/],
    ['closed without a footer or an error', failedDoc([]), /truncated output: 1 result rows and no average_bus_bandwidth in the JSON/],
    [
      'a log cut inside the JSON block',
      `${SPARK}${JSON_RESULTS_BEGIN}\n${SPARK_JSON.slice(0, 400)}`,
      /truncated output: the log stops inside the nccl-tests JSON results/,
    ],
    [
      'a NaN bandwidth',
      refused((d) => ((d.results[0]!.in_place as { bus_bw: unknown }).bus_bw = 'nan')),
      /corrupted output: JSON field results.0.in_place.bus_bw/,
    ],
    [
      'an average that does not match the rows',
      refused((d) => (d.average_bus_bandwidth = { bandwidth: 9.5, okay: 'unchecked' })),
      /says 9.5 but the 3 rows average 2.8/,
    ],
    ['rows out of order', refused((d) => d.results.reverse()), /row sizes go down/],
    ['not a document', `${SPARK_JSON}}`, /corrupted output: the JSON document does not parse/],
    ['JSON of something else', '{"kind":"Pod"}', /not nccl-tests output: a JSON document without "results"/],
  ])('refuses %s', (_name, text, message) => {
    expect(() => parseNcclTestsOutput(text)).toThrow(NcclParseError);
    expect(() => parseNcclTestsOutput(text)).toThrow(message);
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
