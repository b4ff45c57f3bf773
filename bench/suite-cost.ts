// Benchmark: the test suite's own cost. Runs the README's test command (`npm test`: install check,
// typecheck, lint, format check, build, jest against the real servers) on a warm machine, and prints its wall
// time against the goal (8 min on this 2-core machine) and the ten slowest test files by jest's own clock.
// Asserts nothing; a failing suite is reported, not hidden.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { repoRoot } from '../lab/repo-root.js';

const GOAL_MS = 8 * 60_000;

interface JestResults {
  numPassedTests: number;
  numFailedTests: number;
  testResults: { name: string; startTime: number; endTime: number }[];
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-suite-'));
  const output = join(dir, 'jest.json');
  const started = performance.now();
  const code = await new Promise<number | null>((resolve) => {
    spawn('npm', ['test', '--', '--json', `--outputFile=${output}`], { cwd: repoRoot(), stdio: 'inherit' }).once('exit', resolve);
  });
  const wallMs = performance.now() - started;
  try {
    const results = JSON.parse(readFileSync(output, 'utf8')) as JestResults;
    const files = results.testResults.map((r) => ({ file: relative(repoRoot(), r.name), ms: r.endTime - r.startTime })).sort((a, b) => b.ms - a.ms);
    console.log(`\nnpm test: exit ${code}, ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${files.length} files`);
    console.log(`wall time ${(wallMs / 1000).toFixed(0)} s = ${(wallMs / GOAL_MS).toFixed(2)} × the 8 min goal`);
    console.log('slowest ten files:');
    for (const { file, ms } of files.slice(0, 10)) console.log(`  ${(ms / 1000).toFixed(1).padStart(6)} s  ${file}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (code !== 0) process.exitCode = 1;
}

await main();
