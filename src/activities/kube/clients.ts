import { ApiException, AppsV1Api, BatchV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, PolicyV1Api, Watch } from '@kubernetes/client-node';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { NodeFacts } from '../../domain/node.js';
import type { PodFacts } from '../../domain/drain.js';

/** The Kubernetes clients activities use; built once per worker from a kubeconfig or the in-cluster account. */
export interface KubeClients {
  config: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  batch: BatchV1Api;
  policy: PolicyV1Api;
  custom: CustomObjectsApi;
  /** Leases: the one-rolling-operation-per-cluster lock. */
  coordination: CoordinationV1Api;
  watch: Watch;
}

export function kubeClients(config: KubeConfig): KubeClients {
  return {
    config,
    core: config.makeApiClient(CoreV1Api),
    apps: config.makeApiClient(AppsV1Api),
    batch: config.makeApiClient(BatchV1Api),
    policy: config.makeApiClient(PolicyV1Api),
    custom: config.makeApiClient(CustomObjectsApi),
    coordination: config.makeApiClient(CoordinationV1Api),
    watch: new Watch(config),
  };
}

/** A kubeconfig file when given, else the pod's service account (in-cluster). */
export function loadKubeConfig(kubeconfigPath?: string): KubeConfig {
  const config = new KubeConfig();
  if (kubeconfigPath) config.loadFromFile(kubeconfigPath);
  else config.loadFromCluster();
  return config;
}

export function isApiStatus(error: unknown, code: number): error is ApiException<unknown> {
  return error instanceof ApiException && error.code === code;
}

/**
 * The API server gave no answer (not listening, connection refused or reset: it may be restarting) or asked
 * to be called again later (429, 5xx). Every other failure is an answer, and waiting will not change it.
 */
export function isApiUnavailable(error: unknown): boolean {
  if (error instanceof ApiException) return error.code === 429 || error.code >= 500;
  // node-fetch (under the generated clients) reports a request that got no response as a FetchError of type system.
  return error instanceof Error && error.name === 'FetchError' && (error as { type?: string }).type === 'system';
}

/** A read's object, or undefined when the API server answers 404; any other failure stays a failure. */
export function unlessNotFound<T>(read: Promise<T>): Promise<T | undefined> {
  return read.catch((error: unknown) => {
    if (isApiStatus(error, 404)) return undefined;
    throw error;
  });
}

/** What a write returns when it lost to another writer (409: AlreadyExists, or Conflict on resourceVersion). */
export const LOST_RACE = Symbol('lost race');
/**
 * A lost write means someone changed the object between our read and our write; the next round reads what
 * they wrote. Losing this many rounds in a row is left to the activity's retry policy.
 */
const RACE_ROUNDS = 5;

/** Runs read-decide-write again while its write loses to another writer, so each round decides on what is there now. */
export async function untilWritten<T>(what: string, round: () => Promise<T | typeof LOST_RACE>): Promise<T> {
  for (let attempt = 1; attempt <= RACE_ROUNDS; attempt++) {
    const outcome = await round();
    if (outcome !== LOST_RACE) return outcome;
  }
  throw new Error(`${what}: lost ${RACE_ROUNDS} races in a row to other writers; trying again`);
}

/** The Status message of a failed API call, for reports a person reads. */
export function apiMessage(error: unknown): string {
  if (error instanceof ApiException) {
    const body = typeof error.body === 'string' ? safeJson(error.body) : error.body;
    const message = (body as { message?: string } | undefined)?.message;
    return `HTTP ${error.code}: ${message ?? 'no message'}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * The activities with an API call that escapes them said as kubectl says it (`HTTP 403: nodes "n1" is
 * forbidden: User "…" cannot patch resource "nodes" …`) rather than as the client's dump of code, quoted body
 * and headers. Still a plain, retryable error: the retry policy decides, as before.
 */
export function withApiMessages<T extends Record<string, (input: never) => Promise<unknown>>>(activities: T): T {
  const wrapped = Object.entries(activities).map(([name, activity]) => [
    name,
    async (input: never) => {
      try {
        return await activity(input);
      } catch (error) {
        if (error instanceof ApiException) throw new Error(apiMessage(error), { cause: error });
        throw error;
      }
    },
  ]);
  return Object.fromEntries(wrapped) as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text };
  }
}

export function nodeFacts(node: V1Node): NodeFacts {
  return {
    name: node.metadata?.name ?? '',
    unschedulable: node.spec?.unschedulable === true,
    labels: { ...(node.metadata?.labels ?? {}) },
    conditions: Object.fromEntries((node.status?.conditions ?? []).map((c) => [c.type, c.status])),
    allocatable: { ...(node.status?.allocatable ?? {}) },
  };
}

export function podFacts(pod: V1Pod): PodFacts {
  const controller = pod.metadata?.ownerReferences?.find((owner) => owner.controller === true);
  return {
    namespace: pod.metadata?.namespace ?? '',
    name: pod.metadata?.name ?? '',
    labels: { ...(pod.metadata?.labels ?? {}) },
    controller: controller && {
      // apiVersion is "group/version", or just "v1" for the core group.
      group: controller.apiVersion.includes('/') ? controller.apiVersion.split('/')[0]! : '',
      kind: controller.kind,
      name: controller.name,
      uid: controller.uid,
    },
    mirror: pod.metadata?.annotations?.['kubernetes.io/config.mirror'] !== undefined,
    deleting: pod.metadata?.deletionTimestamp !== undefined,
    phase: pod.status?.phase ?? '',
    emptyDirVolumes: (pod.spec?.volumes ?? []).filter((volume) => volume.emptyDir).map((volume) => volume.name),
  };
}
