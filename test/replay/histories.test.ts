import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { droppedWorkflowSpans } from '../../src/tracing.js';
import { testEnv } from '../helpers/env.js';
import { readHistoryFile } from '../helpers/histories.js';

// Real runs of every workflow type (success, failure and operator-command paths), recorded from the test
// suite by `npm run histories:record`, replayed against the workflow code as it is now: a change that alters
// a run's command sequence without `patched()` fails here, before it can wedge the runs in flight.
const ROOT = 'test/fixtures/histories';

function recordedHistories() {
  return readdirSync(ROOT, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((dir) => readdirSync(join(ROOT, dir.name)).map((file) => ({ type: dir.name, file: join(ROOT, dir.name, file) })));
}

test('every recorded history replays on the current workflow code', async () => {
  const recorded = recordedHistories();
  const files = new Map<string, string>();
  const histories = recorded.map(({ file }) => {
    const { workflowId, history } = readHistoryFile(readFileSync(file, 'utf8'));
    files.set(workflowId, file);
    return { workflowId, history };
  });
  const failures: string[] = [];
  let replayed = 0;
  for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath: testEnv('bundle') }, sinks: droppedWorkflowSpans }, histories)) {
    replayed += 1;
    if (result.error) failures.push(`${files.get(result.workflowId)}: ${result.error.message}`);
  }
  const types = new Set(recorded.map((r) => r.type));
  console.log(`histories replayed: ${replayed} of ${recorded.length} (${types.size} workflow types), failures: ${failures.length}`);
  expect(failures).toEqual([]);
  expect(replayed).toBe(recorded.length);
}, 300_000);

test('every workflow type has recorded histories', () => {
  const types = new Set(recordedHistories().map((r) => r.type));
  expect([...types].sort()).toEqual(
    [
      'bootstrapCluster',
      'bootstrapNode',
      'drainNode',
      'maintenanceNode',
      'ncclJob',
      'nodeMaintenance',
      'rotateOidcClient',
      'rotateOidcSecrets',
      'sriovNodeReconfigure',
      'sriovRollout',
    ].sort(),
  );
});
