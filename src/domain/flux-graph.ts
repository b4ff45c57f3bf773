/**
 * Flux Kustomizations as a graph: validate, order by level, hold back what cannot reconcile, and
 * measure the critical path. Pure: the same code serves the workflow, the activities and `flux plan`.
 *
 * A Kustomization waits for two kinds of predecessor: the ones it names in dependsOn, and the one that
 * creates it (its parent's rendered spec.path contains it), since it cannot reconcile before it exists.
 */
export interface Kustomization {
  /** namespace/name */
  id: string;
  name: string;
  namespace: string;
  path: string;
  suspend: boolean;
  /** ids of the Kustomizations this one waits for; a dependsOn without namespace takes this one's namespace */
  dependsOn: string[];
  /** id of the Kustomization whose rendered spec.path contains this one */
  createdBy?: string;
  /** where it is defined in the GitOps repo (known to the repo reader only) */
  source?: { file: string; line: number };
}

export interface FluxGraph {
  /** sorted by id */
  nodes: Kustomization[];
  /** Level 0 waits for nothing; level n waits only for levels < n. Held-back nodes are in no level. */
  levels: string[][];
  /** As in Flux: a Kustomization with an unknown dependsOn never reconciles, nor does anything waiting for it. */
  heldBack: { id: string; reason: string }[];
  warnings: string[];
}

export class FluxGraphError extends Error {
  override name = 'FluxGraphError';
}

interface RawKustomization {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  spec?: { path?: string; suspend?: boolean; dependsOn?: { name: string; namespace?: string }[] };
}

/** The labels kustomize-controller puts on every object it applies: who applied it. */
const APPLIED_BY_NAME = 'kustomize.toolkit.fluxcd.io/name';
const APPLIED_BY_NAMESPACE = 'kustomize.toolkit.fluxcd.io/namespace';

/** A Flux Kustomization, not kustomize's own `kustomize.config.k8s.io` Kustomization (a kustomization.yaml). */
export function isFluxKustomization(raw: { apiVersion?: unknown; kind?: unknown } | null | undefined): boolean {
  return raw?.kind === 'Kustomization' && typeof raw.apiVersion === 'string' && raw.apiVersion.startsWith('kustomize.toolkit.fluxcd.io/');
}

export function toKustomization(raw: RawKustomization, defaultNamespace = 'flux-system'): Kustomization {
  const namespace = raw.metadata?.namespace ?? defaultNamespace;
  const name = raw.metadata?.name ?? '';
  const id = `${namespace}/${name}`;
  const labels = raw.metadata?.labels ?? {};
  const appliedBy = labels[APPLIED_BY_NAME] && labels[APPLIED_BY_NAMESPACE] ? `${labels[APPLIED_BY_NAMESPACE]}/${labels[APPLIED_BY_NAME]}` : undefined;
  return {
    id,
    name,
    namespace,
    path: raw.spec?.path ?? './',
    suspend: raw.spec?.suspend === true,
    dependsOn: (raw.spec?.dependsOn ?? []).map((d) => `${d.namespace ?? namespace}/${d.name}`),
    // The bootstrap Kustomization (flux-system) applies itself: that is no edge.
    ...(appliedBy && appliedBy !== id ? { createdBy: appliedBy } : {}),
  };
}

/** `namespace/name (file:line)`, or the id alone where the source is not known. */
export const located = (node: Kustomization) => (node.source ? `${node.id} (${node.source.file}:${node.source.line})` : node.id);

/**
 * What a node waits for among the known nodes. A createdBy outside the set (e.g. a live object applied
 * by a Kustomization in a namespace not read) is no edge: its creator has evidently run already.
 */
export function predecessors(node: Kustomization, known: (id: string) => boolean): string[] {
  return [...new Set([...node.dependsOn, ...(node.createdBy && known(node.createdBy) ? [node.createdBy] : [])])];
}

/**
 * Validates and levels the graph. Duplicates and cycles throw, naming each member (and its file:line
 * where known). An unknown dependsOn holds back that node and everything waiting for it, with a warning;
 * with `strict` it throws instead.
 */
export function buildGraph(nodes: Kustomization[], { strict = false }: { strict?: boolean } = {}): FluxGraph {
  const byId = new Map<string, Kustomization>();
  const duplicates = new Map<string, Kustomization[]>();
  for (const node of nodes) {
    const first = byId.get(node.id);
    if (first) duplicates.set(node.id, [...(duplicates.get(node.id) ?? [first]), node]);
    else byId.set(node.id, node);
  }
  if (duplicates.size) {
    throw new FluxGraphError([...duplicates.values()].map((all) => `duplicate Kustomization ${all.map(located).join(', ')}`).join('\n'));
  }
  const sorted = [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
  const known = (id: string) => byId.has(id);

  const unknown = sorted.flatMap((node) => node.dependsOn.filter((dep) => !known(dep)).map((dep) => ({ node, dep })));
  const warnings = unknown.map(({ node, dep }) => `${located(node)} depends on unknown ${dep}`);
  if (strict && warnings.length) throw new FluxGraphError(warnings.join('\n'));

  const cycle = findCycle(sorted, byId);
  if (cycle) throw new FluxGraphError(`dependency cycle (→ reads "waits for"): ${cycle.map((id) => located(byId.get(id)!)).join(' → ')}`);

  const heldBack = new Map<string, string>(unknown.map(({ node, dep }) => [node.id, `depends on unknown ${dep}`]));
  for (let grew = true; grew;) {
    grew = false;
    for (const node of sorted) {
      if (heldBack.has(node.id)) continue;
      const blocker = predecessors(node, known).find((id) => heldBack.has(id));
      if (blocker) {
        heldBack.set(node.id, `waits for held-back ${blocker}`);
        grew = true;
      }
    }
  }

  const level = new Map<string, number>();
  const levelOf = (id: string): number => {
    const found = level.get(id);
    if (found !== undefined) return found;
    const before = predecessors(byId.get(id)!, known);
    const value = before.length ? Math.max(...before.map(levelOf)) + 1 : 0;
    level.set(id, value);
    return value;
  };
  const levels: string[][] = [];
  for (const node of sorted) if (!heldBack.has(node.id)) (levels[levelOf(node.id)] ??= []).push(node.id);
  return {
    nodes: sorted,
    levels,
    heldBack: [...heldBack].map(([id, reason]) => ({ id, reason })).sort((a, b) => a.id.localeCompare(b.id)),
    warnings,
  };
}

function findCycle(sorted: Kustomization[], byId: Map<string, Kustomization>): string[] | undefined {
  const known = (id: string) => byId.has(id);
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'visiting') return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 'visiting');
    stack.push(id);
    for (const before of predecessors(byId.get(id)!, known).filter(known)) {
      const found = visit(before);
      if (found) return found;
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const node of sorted) {
    const found = visit(node.id);
    if (found) return found;
  }
  return undefined;
}

/**
 * The chain of predecessors (dependsOn and createdBy) whose durations add up to the longest time:
 * nothing can finish sooner.
 */
export function criticalPath(graph: FluxGraph, durationMs: Record<string, number>): { path: string[]; totalMs: number } {
  const byId = new Map(graph.nodes.map((node) => [node.id, node]));
  const best = new Map<string, { totalMs: number; path: string[] }>();
  for (const level of graph.levels) {
    for (const id of level) {
      const known = (other: string) => best.has(other);
      const longest = predecessors(byId.get(id)!, known)
        .filter(known)
        .map((before) => best.get(before)!)
        .sort((a, b) => b.totalMs - a.totalMs)[0];
      best.set(id, { totalMs: (longest?.totalMs ?? 0) + (durationMs[id] ?? 0), path: [...(longest?.path ?? []), id] });
    }
  }
  return [...best.values()].sort((a, b) => b.totalMs - a.totalMs)[0] ?? { path: [], totalMs: 0 };
}
