import { setTimeout as delay } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Watch } from '@kubernetes/client-node';
import { FailureType } from '../../failures.js';
import { isApiUnavailable } from './clients.js';

const HEARTBEAT_EVERY_MS = 5_000;
/** Pauses between tries to reach an API server that went away mid-watch: 0.5 s, doubling up to 5 s. */
const FIRST_RECONNECT_PAUSE_MS = 500;
const MAX_RECONNECT_PAUSE_MS = 5_000;

interface Listed<T> {
  items: T[];
  metadata?: { resourceVersion?: string };
}

interface KubeObject {
  metadata?: { uid?: string; name?: string };
}

export interface WatchUntilOptions<T extends KubeObject> {
  watch: Watch;
  /** The collection's API path, e.g. /api/v1/nodes. */
  path: string;
  query: { fieldSelector?: string; labelSelector?: string };
  list: () => Promise<Listed<T>>;
  /** What still differs from the goal for the current set of objects; empty when reached. */
  unmet: (items: T[]) => string[];
  /** A terminal failure that no waiting can fix (e.g. Flux reports the reconcile failed), if any. */
  failed?: (items: T[]) => string | undefined;
  timeoutSeconds: number;
  /** Names the wait in the timeout message, e.g. "node n1". */
  what: string;
}

/**
 * Lists, then watches a (usually field- or label-selected) collection from that list's resourceVersion
 * until `unmet` comes back empty: no polling. Heartbeats with what is still unmet; honours activity
 * cancellation; when the server ends the watch, lists again and watches on from that list, waiting out an
 * API server that is unreachable meanwhile (a restart); times out with a non-retryable failure.
 */
export async function watchUntil<T extends KubeObject>(options: WatchUntilOptions<T>): Promise<{ waitedMs: number }> {
  const started = Date.now();
  const context = Context.current();
  const objects = new Map<string, T>();
  let unmet = ['not read yet'];
  const reached = () => {
    const failure = options.failed?.([...objects.values()]);
    if (failure) throw ApplicationFailure.nonRetryable(failure, FailureType.WatchedObjectFailed);
    unmet = options.unmet([...objects.values()]);
    context.heartbeat({ unmet });
    return unmet.length === 0;
  };
  const key = (object: T) => object.metadata?.uid ?? object.metadata?.name ?? '';

  const relist = async () => {
    const listed = await options.list();
    objects.clear();
    for (const item of listed.items) objects.set(key(item), item);
    return listed.metadata?.resourceVersion;
  };

  const firstVersion = await relist();
  if (reached()) return { waitedMs: Date.now() - started };

  await new Promise<void>((resolve, reject) => {
    let controller: AbortController | undefined;
    let finished = false;
    const finish = (error?: unknown) => {
      if (finished) return;
      finished = true;
      clearInterval(beat);
      clearTimeout(deadline);
      context.cancellationSignal.removeEventListener('abort', onCancel);
      controller?.abort();
      if (error) reject(error);
      else resolve();
    };
    const onCancel = () => finish(context.cancellationSignal.reason);
    const beat = setInterval(() => context.heartbeat({ unmet }), HEARTBEAT_EVERY_MS);
    const deadline = setTimeout(
      () =>
        finish(
          ApplicationFailure.create({
            type: FailureType.WaitTimedOut,
            nonRetryable: true,
            message: `${options.what} did not get there in ${options.timeoutSeconds}s: ${unmet.join('; ')}`,
          }),
        ),
      options.timeoutSeconds * 1000,
    );
    context.cancellationSignal.addEventListener('abort', onCancel);

    const open = (resourceVersion?: string) =>
      options.watch
        .watch(
          options.path,
          { ...options.query, resourceVersion, allowWatchBookmarks: true },
          (phase, object: T) => {
            if (phase === 'BOOKMARK' || phase === 'ERROR') return;
            if (phase === 'DELETED') objects.delete(key(object));
            else objects.set(key(object), object);
            try {
              if (reached()) finish();
            } catch (error) {
              finish(error);
            }
          },
          // The server ends watches after a while (or our resourceVersion expired): list again, go on. A
          // watch it refuses (RBAC) stays refused: listing again would loop until the deadline.
          (error: unknown) => {
            if (finished) return;
            const status = (error as { statusCode?: number } | null)?.statusCode;
            if (status === 401 || status === 403) finish(new Error(`HTTP ${status}: the API server refused to watch ${options.path}`));
            else void reopen();
          },
        )
        .then((c) => (controller = c), finish);
    // An API server that restarts ends the watch and refuses the list for a while: wait for it (until the
    // deadline) rather than fail the attempt. The wait would start over in a retry, and the few retries, a
    // second or two apart, can all fall within one restart.
    const reopen = async () => {
      for (let pauseMs = FIRST_RECONNECT_PAUSE_MS; !finished; pauseMs = Math.min(pauseMs * 2, MAX_RECONNECT_PAUSE_MS)) {
        try {
          const version = await relist();
          if (reached()) finish();
          else await open(version);
          return;
        } catch (error) {
          if (finished || !isApiUnavailable(error)) return finish(error);
          await delay(pauseMs);
        }
      }
    };
    void open(firstVersion);
  });
  return { waitedMs: Date.now() - started };
}
