/** The span attributes that say what a workflow or activity works on (docs/operations.md, Traces). */
export const SPAN_ATTRIBUTES = {
  node: 'cluster_ops.node',
  kustomization: 'cluster_ops.kustomization',
  clientId: 'cluster_ops.client_id',
} as const;

/** The activities whose `{ namespace, name }` input names a Flux Kustomization (elsewhere it names a Job, a DaemonSet...). */
const KUSTOMIZATION_ACTIVITIES: ReadonlySet<string> = new Set(['reconcileKustomization', 'requestReconcile', 'waitForAppliedRevision']);

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

/**
 * The node, Kustomization or OIDC client that a workflow or activity of `type` works on, read from its one input
 * object: per-node children and node activities carry `node`, Keycloak activities `clientId`, and a rotation's
 * child `client.clientId`.
 */
export function spanAttributes(type: string, input: unknown): Record<string, string> {
  if (!isRecord(input)) return {};
  const { node, namespace, name } = input;
  const clientId = input.clientId ?? (isRecord(input.client) ? input.client.clientId : undefined);
  const attributes: Record<string, string> = {};
  if (typeof node === 'string') attributes[SPAN_ATTRIBUTES.node] = node;
  if (typeof clientId === 'string') attributes[SPAN_ATTRIBUTES.clientId] = clientId;
  if (KUSTOMIZATION_ACTIVITIES.has(type) && typeof namespace === 'string' && typeof name === 'string') {
    attributes[SPAN_ATTRIBUTES.kustomization] = `${namespace}/${name}`;
  }
  return attributes;
}
