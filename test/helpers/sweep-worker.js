// The built worker (dist/src/worker.js, configured from the environment like production) with one test-only
// interceptor: it dies by SIGKILL the moment its first activity has its result, before reporting it. Plain
// JavaScript on the built dist/, like global-setup: the kill sweep (test/helpers/kill-sweep.ts) runs it as a
// process, once per activity boundary of a run.
import { writeFileSync } from 'node:fs';
import { defaultPayloadConverter } from '@temporalio/common';
import proto from '@temporalio/proto';
import { runWorker } from '../../dist/src/worker.js';

const { Payload } = proto.temporal.api.common.v1;

/**
 * Leaves the activity's task token and its result (as the payload the worker would have sent) in
 * SWEEP_RESULT_FILE, then dies. The sweep reports that result to the server after the death, so the run's
 * history has it while no worker is alive to take the workflow task that follows: the replacement does.
 * (Reporting first and dying after races the server, which hands that workflow task to this worker's
 * poller within milliseconds and then waits out its timeout.) Local activities have no task of their own
 * on the server; they run as usual, inside their workflow task.
 * @param {import('@temporalio/activity').Context} context
 * @returns {import('@temporalio/worker').ActivityInboundCallsInterceptor}
 */
function dieWithFirstResult(context) {
  return {
    async execute(input, next) {
      const result = await next(input);
      if (context.info.isLocal) return result;
      const payload = Payload.encode(defaultPayloadConverter.toPayload(result)).finish();
      writeFileSync(
        process.env.SWEEP_RESULT_FILE,
        JSON.stringify({
          activityType: context.info.activityType,
          taskToken: Buffer.from(context.info.taskToken).toString('base64'),
          payload: Buffer.from(payload).toString('base64'),
        }),
      );
      process.kill(process.pid, 'SIGKILL');
      return new Promise(() => undefined);
    },
  };
}

runWorker({
  interceptors: { activity: [(context) => ({ inbound: dieWithFirstResult(context) })] },
  // One activity at a time: when the first has its result no other is running, so the kill interrupts none.
  maxConcurrentActivityTaskExecutions: 1,
  // No sticky queue: the workflow task after the kill goes to the task queue the replacement polls.
  maxCachedWorkflows: 0,
}).catch((error) => {
  console.error(error);
  process.exit(1);
});
