import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

/** Where `npm run histories:record` has the test runs' histories written (test/fixtures/histories). */
const RECORD_DIR = process.env.RECORD_HISTORIES;

/**
 * With RECORD_HISTORIES=<dir>, remembers every run a test starts through `client` and, on `save`, writes its
 * history and its children's (found in the history) to `<dir>/<workflow type>/<test file>--<workflow id>.json`:
 * the real runs the replay test replays against the current workflow code. Without it, does nothing.
 */
export function recordRuns(client: Client): { save(): Promise<void> } {
  if (!RECORD_DIR) return { save: async () => undefined };
  const started = new Map<string, string | undefined>();
  const workflow = client.workflow;
  for (const method of ['start', 'signalWithStart'] as const) {
    const original = workflow[method].bind(workflow) as (
      ...args: unknown[]
    ) => Promise<WorkflowHandle & { firstExecutionRunId?: string; signaledRunId?: string }>;
    Object.assign(workflow, {
      [method]: async (...args: unknown[]) => {
        const handle = await original(...args);
        started.set(handle.workflowId, handle.firstExecutionRunId ?? handle.signaledRunId);
        return handle;
      },
    });
  }
  // execute() starts without going through start(): its options name the workflow (the latest run is the one).
  const execute = workflow.execute.bind(workflow) as (type: unknown, options: { workflowId: string }) => Promise<unknown>;
  Object.assign(workflow, {
    execute: (type: unknown, options: { workflowId: string }) => {
      started.set(options.workflowId, undefined);
      return execute(type, options);
    },
  });
  const testFile = basename(expect.getState().testPath ?? 'unknown', '.test.ts');
  return {
    async save() {
      const saved = new Set<string>();
      for (const [workflowId, runId] of started) {
        for (const run of await runTreeHistories(client, workflowId, runId)) {
          if (saved.has(run.workflowId)) continue;
          saved.add(run.workflowId);
          const type = run.history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? 'unknown';
          const dir = join(RECORD_DIR!, type);
          mkdirSync(dir, { recursive: true });
          writeFileSync(join(dir, `${testFile}--${run.workflowId.replace(/[^A-Za-z0-9._-]+/g, '_')}.json`), historyFile(run.workflowId, run.history));
        }
      }
    },
  };
}

/**
 * A run's history and those of its children, grandchildren and so on (found in the histories), and of the runs
 * that continue any of them as new; the run's first.
 */
export async function runTreeHistories(
  client: Client,
  workflowId: string,
  runId?: string,
): Promise<{ workflowId: string; history: temporal.api.history.v1.IHistory }[]> {
  const runs = [];
  const queue: [string, string | undefined][] = [[workflowId, runId]];
  while (queue.length > 0) {
    const [id, run] = queue.shift()!;
    const history = await client.workflow.getHandle(id, run).fetchHistory();
    runs.push({ workflowId: id, history });
    for (const event of history.events ?? []) {
      const child = event.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
      if (child?.workflowId) queue.push([child.workflowId, child.runId ?? undefined]);
      const next = event.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
      if (next) queue.push([id, next]);
    }
  }
  return runs;
}

const { History } = temporal.api.history.v1;

/**
 * A run's workflow id (a replay needs it: child ids derive from it) and its history in protobuf's JSON object
 * form (enums by name, bytes base64), which `readHistoryFile` turns back into the same History. (The SDK's
 * historyToJSON trips over the two protobufjs copies in node_modules.)
 */
function historyFile(workflowId: string, history: temporal.api.history.v1.IHistory): string {
  return JSON.stringify({ workflowId, history: History.toObject(History.fromObject(history), { longs: String, enums: String, bytes: String }) });
}

export function readHistoryFile(text: string): { workflowId: string; history: temporal.api.history.v1.History } {
  const { workflowId, history } = JSON.parse(text) as { workflowId: string; history: object };
  return { workflowId, history: History.fromObject(history) };
}
