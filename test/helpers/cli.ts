import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { testEnv } from './env.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built `cluster-ops` CLI (dist/) against the run's dev server, with only PATH and the Temporal
 * variables in its environment (`env` adds or overrides). Resolves with the exit code and output, never throws.
 */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const fullEnv = { PATH: process.env.PATH, TEMPORAL_ADDRESS: testEnv('temporalAddress'), ...env };
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['dist/src/client/cli.js', ...args], { env: fullEnv });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as CliResult;
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}
