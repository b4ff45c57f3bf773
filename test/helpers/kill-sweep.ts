import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { spawnBuiltWorker } from './temporal.js';

/** The built worker that dies the moment its first activity has a result (see the file). */
const SWEEP_WORKER = 'test/helpers/sweep-worker.js';

/** A run ends within this many worker deaths, or the sweep is stuck (a worker that dies without progress). */
const MAX_KILLS = 200;

export interface SweepFigure {
  /** Activity boundaries of the run: the activities its history and its children's record as completed. */
  boundaries: number;
  /** Workers killed, each as one of those activities got its result, and each replaced. */
  kills: number;
}

/**
 * Drives `handle`'s run to its end on sweep workers, each SIGKILLed by its own interceptor the moment its first
 * activity has a result, then replaced: the run survives a kill at each of its activity boundaries in turn.
 * The result of the killed worker's activity is reported for it (the server then holds exactly what it would
 * had the worker died right after reporting) and a fresh worker picks the run up, replaying its history from
 * scratch (sweep workers keep no workflow cache). So a kill lands where a single kill at that boundary would.
 */
export async function killAtEveryBoundary(client: Client, handle: WorkflowHandle, taskQueue: string, env: Record<string, string> = {}): Promise<SweepFigure> {
  const closed = handle.result().then(
    () => 'closed' as const,
    () => 'closed' as const,
  );
  const dir = mkdtempSync(join(tmpdir(), 'kill-sweep-'));
  let kills = 0;
  for (;;) {
    const resultFile = join(dir, `worker-${kills + 1}.json`);
    const worker = quiet(spawnBuiltWorker(taskQueue, { ...env, SWEEP_RESULT_FILE: resultFile }, SWEEP_WORKER));
    const exited = new Promise<string>((resolve) => worker.once('exit', (code, signal) => resolve(signal ?? `exit code ${code}`)));
    const first = await Promise.race([exited, closed]);
    if (first === 'closed') {
      worker.kill('SIGTERM');
      await exited;
      break;
    }
    if (first !== 'SIGKILL') throw new Error(`a sweep worker ended by ${first}, not by its own SIGKILL after an activity`);
    await reportForKilledWorker(client, resultFile);
    kills += 1;
    if (kills > MAX_KILLS) throw new Error(`the run did not end within ${MAX_KILLS} worker deaths`);
  }
  return { kills, boundaries: await completedActivities(client, handle.workflowId) };
}

/** Completes the killed worker's activity with the result it had (test/helpers/sweep-worker.js). */
async function reportForKilledWorker(client: Client, resultFile: string): Promise<void> {
  const left = JSON.parse(readFileSync(resultFile, 'utf8')) as { activityType: string; taskToken: string; payload: string };
  await client.workflowService.respondActivityTaskCompleted({
    namespace: client.options.namespace,
    taskToken: Buffer.from(left.taskToken, 'base64'),
    result: { payloads: [temporal.api.common.v1.Payload.decode(Buffer.from(left.payload, 'base64'))] },
    identity: `kill sweep, for the worker killed after ${left.activityType}`,
  });
}

function quiet(worker: ChildProcess): ChildProcess {
  worker.stdout!.resume(); // its JSON logs are not needed; keep the pipe flowing
  return worker;
}

/** Activities completed in the run's history and, recursively, in its child workflows' histories. */
async function completedActivities(client: Client, workflowId: string): Promise<number> {
  const { events } = await client.workflow.getHandle(workflowId).fetchHistory();
  let count = 0;
  for (const event of events ?? []) {
    if (event.activityTaskCompletedEventAttributes) count += 1;
    const child = event.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId;
    if (child) count += await completedActivities(client, child);
  }
  return count;
}

/** The figure the issue asks for, one line per workflow type in the test output. */
export function printSweep(workflowType: string, figure: SweepFigure): void {
  console.log(`kill sweep ${workflowType}: ${figure.kills}/${figure.boundaries} activity boundaries survived a SIGKILL`);
}
