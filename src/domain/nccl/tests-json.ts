import { z } from 'zod';
import { checkResult, failureLines, NcclParseError, ncclVersionName, parseNcclTests, versionsInHeader } from './tests-output.js';
import type { NcclMeasurement, NcclRow, NcclTestsResult } from './tests-output.js';

/**
 * nccl-tests' JSON output (`-J <file>.json`, nccl-tests 2.19 and later; src/util.cu, file versions 1 and 2),
 * read into the same result as the text table and judged by the same checks. The file is one object:
 * `nccl_version` (NCCL's version code), `args` (argv: the binary names the collective), `config.devices` (the
 * ranks), `results` (one row per size: `size`, `count`, `type`, `redop`, `root` as a padded string,
 * `out_of_place` / `in_place` with `time` (or `cpu_time`), `alg_bw`, `bus_bw`, `nwrong` (null without `-c`)),
 * then the footer `out_of_bounds` {count, okay} and `average_bus_bandwidth` {bandwidth, okay}, `errors`, and
 * `end_time` once the run ended. Booleans are the strings "true" / "false"; a NaN is the string "nan".
 * A run that failed is closed early (no average); a killed one leaves a file that stops mid-way.
 */

const measurement = z.object({
  time: z.number().optional(),
  cpu_time: z.number().optional(),
  alg_bw: z.number(),
  bus_bw: z.number(),
  nwrong: z.number().nullable(),
});

const NcclTestsJson = z.object({
  nccl_version: z.number().int().optional(),
  args: z.array(z.string()).optional(),
  config: z.object({
    devices: z.array(z.object({ rank: z.number().int(), hostname: z.string(), device: z.number().int(), device_info: z.string() })).default([]),
  }),
  results: z.array(
    z.object({
      size: z.number().int(),
      count: z.number().int(),
      type: z.string(),
      redop: z.string(),
      root: z.union([z.string().regex(/^\s*-?\d+$/), z.number().int()]),
      // null only in trace replays (in-place alone), which are no benchmark of the link: refused as corrupted.
      out_of_place: measurement,
      in_place: measurement,
    }),
  ),
  out_of_bounds: z.object({ count: z.number().int(), okay: z.enum(['true', 'false']) }).optional(),
  average_bus_bandwidth: z.object({ bandwidth: z.number(), okay: z.enum(['true', 'false', 'unchecked']) }).optional(),
  errors: z.array(z.string()).optional(),
  end_time: z.string().optional(),
});

const toMeasurement = (m: z.infer<typeof measurement>): NcclMeasurement => ({
  timeUs: m.time ?? m.cpu_time ?? 0,
  algBwGBps: m.alg_bw,
  busBwGBps: m.bus_bw,
  wrong: m.nwrong,
});

function parseDocument(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    // nccl-tests closes the document even when a test fails; one that stops before its last brace was cut off.
    const cut = !text.trimEnd().endsWith('}');
    throw new NcclParseError(
      `${cut ? 'truncated' : 'corrupted'} output: the JSON document ${cut ? 'ends early' : 'does not parse'} (${(error as Error).message})`,
    );
  }
}

/** `printedFailures`: failure lines of the same run's text output, which say why a run ended without a footer. */
export function parseNcclTestsJson(text: string, printedFailures: string[] = []): NcclTestsResult {
  const document = parseDocument(text);
  if (typeof document !== 'object' || document === null || !('results' in document)) {
    throw new NcclParseError('not nccl-tests output: a JSON document without "results"');
  }
  const parsed = NcclTestsJson.safeParse(document);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new NcclParseError(`corrupted output: JSON field ${issue.path.join('.')}: ${issue.message}`);
  }
  const json = parsed.data;
  const rows: NcclRow[] = json.results.map((row) => ({
    sizeBytes: row.size,
    count: row.count,
    type: row.type,
    redop: row.redop,
    root: Number(row.root),
    outOfPlace: toMeasurement(row.out_of_place),
    inPlace: toMeasurement(row.in_place),
  }));
  const failures = [...printedFailures, ...(json.errors ?? []).filter(Boolean).map((error) => `error: ${error}`)];
  const outOfBounds = json.out_of_bounds && { count: json.out_of_bounds.count, ok: json.out_of_bounds.okay === 'true' };
  if (outOfBounds && (!outOfBounds.ok || outOfBounds.count > 0)) failures.push(`out of bounds values: ${outOfBounds.count}`);
  const average = json.average_bus_bandwidth;
  if (average?.okay === 'false') failures.push(`average bus bandwidth ${average.bandwidth} below the required minimum`);
  const binary = json.args?.[0]?.split('/').at(-1);
  return checkResult(
    {
      format: 'json',
      ncclVersion: json.nccl_version === undefined ? undefined : ncclVersionName(json.nccl_version),
      collective: binary || undefined,
      ranks: json.config.devices.map((d) => ({ rank: d.rank, host: d.hostname, device: d.device, gpu: d.device_info })),
      rows,
      avgBusBwGBps: average?.bandwidth,
      outOfBounds,
      concluded: json.end_time !== undefined,
      failures,
    },
    'no average_bus_bandwidth in the JSON',
  );
}

/**
 * Our benchmark pods print nccl-tests' JSON file into rank 0's log between these lines, after the text
 * output (src/activities/nccl/manifests.ts), so the log carries both and the reader needs no file access.
 */
export const JSON_RESULTS_BEGIN = '# cluster-ops: nccl-tests JSON results follow';
export const JSON_RESULTS_END = '# cluster-ops: end of nccl-tests JSON results';

/**
 * Reads nccl-tests results in whichever format `text` holds: a JSON file, a rank 0 log with the JSON file
 * printed between our markers (the nccl-tests version then comes from the text header, as the JSON lacks
 * it, and failure lines from the text), or the text table. A log whose JSON block was cut off is truncated;
 * an empty block (nccl-tests could not write its file) leaves the text table to read.
 */
export function parseNcclTestsOutput(text: string): NcclTestsResult {
  if (text.trimStart().startsWith('{')) return parseNcclTestsJson(text);
  const begin = text.indexOf(JSON_RESULTS_BEGIN);
  if (begin === -1) return parseNcclTests(text);
  const body = text.slice(begin + JSON_RESULTS_BEGIN.length);
  const end = body.indexOf(JSON_RESULTS_END);
  if (end === -1) throw new NcclParseError('truncated output: the log stops inside the nccl-tests JSON results');
  const json = body.slice(0, end).trim();
  if (!json) return parseNcclTests(text);
  const result = parseNcclTestsJson(json, failureLines(text));
  const header = versionsInHeader(text);
  return { ...result, version: header.version, ncclVersion: result.ncclVersion ?? header.ncclVersion };
}
