import { V1MicroTime } from '@kubernetes/client-node';
import type { V1Lease, V1LeaseSpec } from '@kubernetes/client-node';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../failures.js';
import { isRunInProgress } from '../temporal/runs.js';
import { isApiStatus, LOST_RACE, untilWritten } from './clients.js';
import type { KubeClients } from './clients.js';

/** The worker's namespace, where manifests/rbac.yaml lets it keep Leases. */
export const DEFAULT_LEASE_NAMESPACE = 'temporal-system';
export const RUN_ID_ANNOTATION = 'cluster-ops.wcloud.sh/run-id';
export const OPERATION_ANNOTATION = 'cluster-ops.wcloud.sh/operation';

export interface RollingLockRun {
  cluster: string;
  /** The workflow id of the rolling run: the Lease's holderIdentity. */
  holder: string;
  runId: string;
}

export interface AcquireRollingLockInput extends RollingLockRun {
  /** The workflow type, e.g. sriovRollout, for whoever finds the cluster busy. */
  operation: string;
  /** The run this one continues (continue-as-new): its hold passes to this run. */
  continuedFrom?: string;
}

export interface AcquireRollingLockResult {
  acquired: true;
  /** namespace/name of the Lease (`kubectl get lease -n <namespace>`). */
  lease: string;
  /** The workflow id of the closed run this one took the Lease from, when it was not free. */
  tookOverFrom?: string;
}

export interface ReleaseRollingLockResult {
  /** Whether this call freed the Lease: false when it was free already or another run holds it. */
  released: boolean;
}

/** What a person needs to find the run that holds a cluster, also the ClusterBusy failure's details. */
export interface RollingLockHolder {
  holder: string;
  runId?: string;
  operation?: string;
  since?: string;
}

/**
 * `cluster-ops-rolling-<cluster>` as a Kubernetes name: lowercase, anything but letters, digits and dashes
 * made a dash, at most 253 characters. Clusters whose names sanitize alike share one lock, which is only
 * stricter, never a second holder.
 */
export function rollingLeaseName(cluster: string): string {
  return `cluster-ops-rolling-${cluster}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, 253)
    .replace(/-+$/, '');
}

/**
 * One rolling operation per cluster, arbitrated by the API server: the Lease is taken by a create (a
 * concurrent create loses with 409 AlreadyExists) or by a replace carrying the resourceVersion that was
 * read (a concurrent write loses with 409 Conflict), so of any number of contenders exactly one wins.
 *
 * A hold has no expiry: leaseDurationSeconds and renewTime stay unset, and nothing renews the Lease. A
 * Temporal workflow run does not crash with its worker, it resumes on another one, so a time-based expiry
 * would only free the lock under a run that is still rolling (a long maintenance can take days). The hold
 * ends when the holder releases it, or when Temporal records the holder's run as closed (completed, failed,
 * terminated, timed out, or gone past retention): the next contender then takes the Lease over. A run that
 * continued as new still holds through the run that continues it, which takes the Lease over at once. Every worker
 * sharing these Leases must therefore use one Temporal namespace, where the holders' runs are found.
 */
export function createRollingLockActivities({ coordination }: KubeClients, namespace: string) {
  const leaseRef = (name: string) => `${namespace}/${name}`;

  async function readLease(name: string): Promise<V1Lease | undefined> {
    return coordination.readNamespacedLease({ name, namespace }).catch((error: unknown) => {
      if (isApiStatus(error, 404)) return undefined;
      throw error;
    });
  }

  /** The write itself; a 409 (AlreadyExists on create, Conflict on replace) means another contender won. */
  async function write(lease: V1Lease): Promise<V1Lease | typeof LOST_RACE> {
    const { name, resourceVersion } = lease.metadata!;
    const written = resourceVersion
      ? coordination.replaceNamespacedLease({ name: name!, namespace, body: lease })
      : coordination.createNamespacedLease({ namespace, body: lease });
    return written.catch((error: unknown) => {
      if (isApiStatus(error, 409)) return LOST_RACE;
      throw error;
    });
  }

  /**
   * The Lease to write: with `previous`, a replace that only succeeds on the resourceVersion read (other
   * annotations and labels kept); without, a create.
   */
  const leaseBody = (name: string, previous: V1Lease | undefined, runAnnotations: Record<string, string>, spec: V1LeaseSpec): V1Lease => {
    const annotations = { ...previous?.metadata?.annotations };
    delete annotations[RUN_ID_ANNOTATION];
    delete annotations[OPERATION_ANNOTATION];
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name,
        namespace,
        resourceVersion: previous?.metadata?.resourceVersion,
        labels: previous?.metadata?.labels,
        annotations: { ...annotations, ...runAnnotations },
      },
      spec,
    };
  };

  return {
    /**
     * Takes the cluster's rolling lock for this workflow run, or fails for good with ClusterBusy naming the
     * run in progress that holds it. Taking it again from the same run (a retried activity) succeeds.
     */
    async acquireRollingLock({ cluster, holder, runId, operation, continuedFrom }: AcquireRollingLockInput): Promise<AcquireRollingLockResult> {
      const name = rollingLeaseName(cluster);
      const acquired = { acquired: true as const, lease: leaseRef(name) };
      const takeFrom = (previous?: V1Lease) =>
        write(
          leaseBody(
            name,
            previous,
            { [RUN_ID_ANNOTATION]: runId, [OPERATION_ANNOTATION]: operation },
            {
              holderIdentity: holder,
              acquireTime: new V1MicroTime(),
              leaseTransitions: previous ? (previous.spec?.leaseTransitions ?? 0) + 1 : 0,
            },
          ),
        );

      return untilWritten(`acquiring Lease ${leaseRef(name)}`, async () => {
        const lease = await readLease(name);
        if (!lease) return (await takeFrom()) === LOST_RACE ? LOST_RACE : acquired;
        const current = holderOf(lease);
        if (current?.holder === holder && current.runId === runId) return acquired;
        const handedOver = current?.holder === holder && current.runId !== undefined && current.runId === continuedFrom;
        if (current && !handedOver && (await isRunInProgress(Context.current().client, current.holder, current.runId))) {
          throw busy(cluster, leaseRef(name), current);
        }
        if ((await takeFrom(lease)) === LOST_RACE) return LOST_RACE;
        return current && !handedOver ? { ...acquired, tookOverFrom: current.holder } : acquired;
      });
    },

    /** Frees the cluster's rolling lock if this run holds it; never touches another run's hold. */
    async releaseRollingLock({ cluster, holder, runId }: RollingLockRun): Promise<ReleaseRollingLockResult> {
      const name = rollingLeaseName(cluster);
      return untilWritten(`releasing Lease ${leaseRef(name)}`, async () => {
        const lease = await readLease(name);
        const current = lease && holderOf(lease);
        if (!lease || current?.holder !== holder || current.runId !== runId) return { released: false };
        const freed = await write(leaseBody(name, lease, {}, { leaseTransitions: lease.spec?.leaseTransitions }));
        return freed === LOST_RACE ? LOST_RACE : { released: true };
      });
    },
  };
}

/** Who holds the Lease; undefined when it is free (never taken, or released). */
function holderOf(lease: V1Lease): RollingLockHolder | undefined {
  const holder = lease.spec?.holderIdentity;
  if (!holder) return undefined;
  const annotations = lease.metadata?.annotations ?? {};
  // The client hands MicroTime fields back as the API server's string, whatever its type says.
  const since = lease.spec?.acquireTime ? new Date(lease.spec.acquireTime).toISOString() : undefined;
  return { holder, runId: annotations[RUN_ID_ANNOTATION], operation: annotations[OPERATION_ANNOTATION], since };
}

function busy(cluster: string, lease: string, current: RollingLockHolder): ApplicationFailure {
  const what = [current.operation, current.holder].filter(Boolean).join(' ');
  const run = current.runId ? ` (run ${current.runId})` : '';
  const since = current.since ? ` since ${current.since}` : '';
  return ApplicationFailure.create({
    message: `${cluster} is busy: ${what}${run} holds its rolling lock${since} (Lease ${lease}); one rolling operation per cluster`,
    type: FailureType.ClusterBusy,
    nonRetryable: true,
    details: [current],
  });
}
