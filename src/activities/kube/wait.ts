import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import type { V1Node } from '@kubernetes/client-node';
import { unmetExpectations } from '../../domain/node.js';
import type { NodeExpectation } from '../../domain/node.js';
import { nodeFacts } from './clients.js';
import type { KubeClients } from './clients.js';

export const WAIT_TIMED_OUT = 'WaitTimedOut';
const HEARTBEAT_EVERY_MS = 5_000;

export interface WaitForNodeInput extends NodeExpectation {
  node: string;
  timeoutSeconds: number;
}

export interface WaitForNodeResult {
  node: string;
  waitedMs: number;
}

export function createWaitActivities({ core, watch }: KubeClients) {
  return {
    /**
     * Waits on a watch of the one node (no polling) until it meets the expectation. Times out with a
     * non-retryable failure that says what still differs; cancellation from the workflow stops the watch.
     */
    async waitForNode({ node, timeoutSeconds, ...expected }: WaitForNodeInput): Promise<WaitForNodeResult> {
      const started = Date.now();
      const cancelled = Context.current().cancellationSignal;
      let unmet = ['never read'];
      const check = (object: V1Node) => {
        unmet = unmetExpectations(nodeFacts(object), expected);
        Context.current().heartbeat({ unmet });
        return unmet.length === 0;
      };

      const first = await core.readNode({ name: node });
      if (check(first)) return { node, waitedMs: Date.now() - started };

      await new Promise<void>((resolve, reject) => {
        let controller: AbortController | undefined;
        let finished = false;
        const finish = (error?: unknown) => {
          if (finished) return;
          finished = true;
          clearInterval(beat);
          clearTimeout(deadline);
          cancelled.removeEventListener('abort', onCancel);
          controller?.abort();
          if (error) reject(error);
          else resolve();
        };
        const onCancel = () => finish(cancelled.reason);
        const beat = setInterval(() => Context.current().heartbeat({ unmet }), HEARTBEAT_EVERY_MS);
        const deadline = setTimeout(
          () =>
            finish(
              ApplicationFailure.create({
                type: WAIT_TIMED_OUT,
                nonRetryable: true,
                message: `node ${node} did not get there in ${timeoutSeconds}s: ${unmet.join('; ')}`,
              }),
            ),
          timeoutSeconds * 1000,
        );
        cancelled.addEventListener('abort', onCancel);
        const startWatch = (resourceVersion?: string) =>
          watch
            .watch(
              '/api/v1/nodes',
              { fieldSelector: `metadata.name=${node}`, resourceVersion },
              (phase, object: V1Node) => {
                if (phase !== 'DELETED' && phase !== 'ERROR' && check(object)) finish();
              },
              // The server closes watches after a while; reopen from a fresh read instead of failing.
              () => {
                if (!finished) void reopen();
              },
            )
            .then((c) => (controller = c), finish);
        const reopen = async () => {
          try {
            const latest = await core.readNode({ name: node });
            if (check(latest)) finish();
            else await startWatch(latest.metadata?.resourceVersion);
          } catch (error) {
            finish(error);
          }
        };
        void startWatch(first.metadata?.resourceVersion);
      });
      return { node, waitedMs: Date.now() - started };
    },
  };
}
