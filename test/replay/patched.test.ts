import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import webpack from 'webpack';
import { bundleOptions, workflowsPath } from '../../src/workflow-bundle.js';
import { readHistoryFile } from '../helpers/histories.js';

// A recorded drainNode run that drained its node and left uncordonAfter to its default, replayed on changed
// versions of drainNode.
const dir = 'test/fixtures/histories/drainNode';
const decode = (payload: { data?: Uint8Array | null } | undefined) => JSON.parse(Buffer.from(payload?.data ?? []).toString('utf8')) as Record<string, unknown>;
const recorded = readdirSync(dir)
  .map((file) => join(dir, file))
  .find((file) => {
    const events = readHistoryFile(readFileSync(file, 'utf8')).history.events ?? [];
    const input = decode(events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]);
    const result = events.at(-1)?.workflowExecutionCompletedEventAttributes?.result?.payloads?.[0];
    return result !== undefined && decode(result).outcome === 'drained' && input.uncordonAfter === undefined;
  })!;

const changed = (file: string) => new URL(`./changed/${file}`, import.meta.url).pathname;

async function replayOn(variant: 'guarded' | 'unguarded') {
  return replay(await bundleWorkflowCode({ workflowsPath: changed(`${variant}.ts`), ...bundleOptions }));
}

function replay({ code }: { code: string }) {
  const { workflowId, history } = readHistoryFile(readFileSync(recorded, 'utf8'));
  return Worker.runReplayHistory({ workflowBundle: { code } }, history, workflowId).then(
    () => 'replayed',
    (error: Error) => `${error.name}: ${error.message}`,
  );
}

test('a change guarded by patched() replays a history recorded before it; the same change unguarded does not', async () => {
  expect(recorded).toBeDefined();
  expect(await replayOn('guarded')).toBe('replayed');
  expect(await replayOn('unguarded')).toMatch(/^DeterminismViolationError: /);
}, 180_000);

test('a default changed after a run started does not change its replay: the run reads the input it parsed then', async () => {
  // The released workflows, but drainNode reads the changed schema.
  const bundle = await bundleWorkflowCode({
    workflowsPath: workflowsPath(),
    webpackConfigHook: (config) => {
      const released = bundleOptions.webpackConfigHook!(config);
      const swap = new webpack.NormalModuleReplacementPlugin(/^\.\.\/schemas\/drain-node\.js$/, changed('drain-node-schema.ts'));
      return { ...released, plugins: [...(released.plugins ?? []), swap] };
    },
  });
  expect(await replay(bundle)).toBe('replayed');
}, 180_000);
