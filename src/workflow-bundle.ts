import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { BundleOptions } from '@temporalio/worker';

/** A module of ours: its TypeScript source under jest and the lab, its compiled JavaScript under dist/. */
function sourceOrBuilt(path: string): string {
  const source = fileURLToPath(new URL(`${path}.ts`, import.meta.url));
  return existsSync(source) ? source : fileURLToPath(new URL(`${path}.js`, import.meta.url));
}

/** The workflows entry. */
export function workflowsPath(): string {
  return sourceOrBuilt('./workflows/index');
}

/**
 * The tracing interceptors are always in the workflow code, because a prebuilt bundle cannot take them later; a
 * worker without tracing gives their spans to a sink that drops them (src/tracing.ts).
 */
export const workflowInterceptorModules = [sourceOrBuilt('./workflows/shared/tracing')];

/**
 * Our sources import siblings as `./x.js` (NodeNext ESM). Under TypeScript those files are `./x.ts`:
 * teach the workflow bundler's webpack to try `.ts` for a `.js` import.
 */
export const bundleOptions: Omit<BundleOptions, 'workflowsPath'> = {
  workflowInterceptorModules,
  webpackConfigHook: (config) => ({
    ...config,
    resolve: { ...config.resolve, extensionAlias: { '.js': ['.ts', '.js'] } },
  }),
};

export async function bundleWorkflows(): Promise<{ code: string }> {
  return bundleWorkflowCode({ workflowsPath: workflowsPath(), ...bundleOptions });
}

/** `npm run build` writes the bundle the production worker loads, so it starts without webpack. */
async function writeBundle(outFile: string) {
  const { code } = await bundleWorkflows();
  await mkdir(dirname(outFile), { recursive: true });
  await writeFile(outFile, code);
  console.log(`workflow bundle written to ${outFile} (${Math.round(code.length / 1024)} KiB)`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await writeBundle(process.argv[2] ?? 'dist/workflow-bundle.js');
}
