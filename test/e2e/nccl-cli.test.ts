import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

// The built `cluster-ops nccl parse` on real saved logs (and a truncated copy); offline, no server needed.
async function cli(...args: string[]) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['dist/src/client/cli.js', ...args], { env: { PATH: process.env.PATH } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}
const fixture = (name: string) => join('test/fixtures/nccl', name);

test('a healthy run prints its summary and exits 0; --json gives the same figures', async () => {
  const text = await cli('nccl', 'parse', fixture('all_reduce-2nodes-8xH100.txt'));
  expect(text.code).toBe(0);
  expect(text.stdout).toContain('peak busbw 338.82 GB/s at 8589934592 bytes');
  const json = await cli('nccl', 'parse', fixture('all_reduce-2nodes-8xH100.txt'), '--json');
  expect(JSON.parse(json.stdout)).toMatchObject({ passed: true, peakBusBwGBps: 338.82, avgBusBwGBps: 70.742 });
});

test('a regression against --baseline exits 1 and says so', async () => {
  const result = await cli('nccl', 'parse', fixture('all_gather-2xDGX-Spark-degraded.txt'), '--baseline', '21');
  expect(result.code).toBe(1);
  expect(result.stdout).toContain('REGRESSED');
});

test('a JSON file (-J) is read as such: the same figures, the format and the NCCL version, and a cut one is refused', async () => {
  const result = await cli('nccl', 'parse', fixture('all_gather-2xDGX-Spark-degraded.json'), '--baseline', '21', '--json');
  expect(result.code).toBe(1);
  expect(JSON.parse(result.stdout)).toMatchObject({ format: 'json', ncclVersion: '2.28.9', peakBusBwGBps: 2.83, regression: { regressed: true } });
  const cut = join(mkdtempSync(join(tmpdir(), 'nccl-cli-')), 'cut.json');
  writeFileSync(cut, readFileSync(fixture('all_gather-2xDGX-Spark-degraded.json'), 'utf8').slice(0, 1000));
  const refused = await cli('nccl', 'parse', cut);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain('truncated output: the JSON document ends early');
});

test('a truncated log is rejected with a clear message and exit 2', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nccl-cli-'));
  const cut = join(dir, 'cut.txt');
  writeFileSync(cut, readFileSync(fixture('all_gather-2xDGX-Spark-degraded.txt'), 'utf8').split('\n').slice(0, 13).join('\n'));
  const result = await cli('nccl', 'parse', cut);
  expect(result.code).toBe(2);
  expect(result.stderr).toContain('truncated output: 2 result rows and no "# Avg bus bandwidth" line');
});
