import { randomBytes } from 'node:crypto';
import { MockActivityEnvironment, TestWorkflowEnvironment } from '@temporalio/testing';
import type { ActivityDeps } from '../../src/activities/index.js';
import { createWorker } from '../../src/worker.js';
import { testEnv } from './env.js';

/** The time-skipping test server from our pinned install (never the SDK's own download). */
export function timeSkippingEnvironment(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: testEnv('testServer') } },
  });
}

/** Runs `body` while a real worker (all workflows, activities on `deps`) serves a fresh task queue. */
export async function withWorker<T>(
  env: TestWorkflowEnvironment,
  deps: ActivityDeps,
  body: (taskQueue: string) => Promise<T>,
): Promise<T> {
  const taskQueue = `test-${randomBytes(4).toString('hex')}`;
  const worker = await createWorker({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    deps,
    workflowBundlePath: testEnv('bundle'),
  });
  return worker.runUntil(body(taskQueue));
}

/**
 * Calls an activity function inside a real activity context (heartbeats, cancellation) without a worker;
 * whatever the activity talks to is real.
 */
export function activityRunner() {
  const env = new MockActivityEnvironment();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return <F extends (...args: any[]) => Promise<unknown>>(fn: F, ...args: Parameters<F>): ReturnType<F> =>
    env.run(fn, ...args) as ReturnType<F>;
}
