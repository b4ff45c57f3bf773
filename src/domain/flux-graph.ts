import { parseAllDocuments } from 'yaml';

/**
 * Flux Kustomizations as a dependsOn graph: parse, validate, order by level, and measure the critical
 * path. Pure: the same code serves the workflow, the activity and the offline `flux plan`.
 */
export interface Kustomization {
  /** namespace/name */
  id: string;
  name: string;
  namespace: string;
  path: string;
  suspend: boolean;
  /** ids of the Kustomizations this one waits for */
  dependsOn: string[];
}

export interface FluxGraph {
  nodes: Kustomization[];
  /** Level 0 has no dependencies; level n depends only on levels < n. */
  levels: string[][];
}

export class FluxGraphError extends Error {
  override name = 'FluxGraphError';
}

interface RawKustomization {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  spec?: { path?: string; suspend?: boolean; dependsOn?: { name: string; namespace?: string }[] };
}

export function toKustomization(raw: RawKustomization, defaultNamespace = 'flux-system'): Kustomization {
  const namespace = raw.metadata?.namespace ?? defaultNamespace;
  const name = raw.metadata?.name ?? '';
  return {
    id: `${namespace}/${name}`,
    name,
    namespace,
    path: raw.spec?.path ?? './',
    suspend: raw.spec?.suspend === true,
    dependsOn: (raw.spec?.dependsOn ?? []).map((d) => `${d.namespace ?? namespace}/${d.name}`),
  };
}

/** The Kustomizations in a set of YAML files (Flux's clusters/<cluster>/*.yaml). */
export function parseKustomizations(files: string[]): Kustomization[] {
  return files
    .flatMap((text) => parseAllDocuments(text).map((doc) => doc.toJS() as RawKustomization | null))
    .filter((raw): raw is RawKustomization => raw?.kind === 'Kustomization' && Boolean(raw.metadata?.name))
    .map((raw) => toKustomization(raw));
}

/** Validates and levels the graph; every problem (duplicates, unknown dependencies, a cycle) is named. */
export function buildGraph(nodes: Kustomization[]): FluxGraph {
  const problems: string[] = [];
  const byId = new Map<string, Kustomization>();
  for (const node of nodes) {
    if (byId.has(node.id)) problems.push(`duplicate Kustomization ${node.id}`);
    byId.set(node.id, node);
  }
  for (const node of nodes) {
    for (const dep of node.dependsOn) if (!byId.has(dep)) problems.push(`${node.id} depends on unknown ${dep}`);
  }
  if (problems.length) throw new FluxGraphError(problems.join('\n'));
  const cycle = findCycle([...byId.values()], byId);
  if (cycle) throw new FluxGraphError(`dependency cycle (→ reads "depends on"): ${cycle.join(' → ')}`);

  const level = new Map<string, number>();
  const levelOf = (id: string): number => {
    const known = level.get(id);
    if (known !== undefined) return known;
    const deps = byId.get(id)!.dependsOn;
    const value = deps.length ? Math.max(...deps.map(levelOf)) + 1 : 0;
    level.set(id, value);
    return value;
  };
  const levels: string[][] = [];
  for (const id of [...byId.keys()].sort()) (levels[levelOf(id)] ??= []).push(id);
  return { nodes: [...byId.values()].sort((a, b) => a.id.localeCompare(b.id)), levels: levels.map((l) => l.sort()) };
}

function findCycle(nodes: Kustomization[], byId: Map<string, Kustomization>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'visiting') return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 'visiting');
    stack.push(id);
    for (const dep of byId.get(id)!.dependsOn) {
      const found = visit(dep);
      if (found) return found;
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const node of [...nodes].sort((a, b) => a.id.localeCompare(b.id))) {
    const found = visit(node.id);
    if (found) return found;
  }
  return undefined;
}

/** The chain of dependencies whose durations add up to the longest time: nothing can finish sooner. */
export function criticalPath(graph: FluxGraph, durationMs: Record<string, number>): { path: string[]; totalMs: number } {
  const best = new Map<string, { totalMs: number; path: string[] }>();
  for (const level of graph.levels) {
    for (const id of level) {
      const node = graph.nodes.find((n) => n.id === id)!;
      const longest = node.dependsOn.map((dep) => best.get(dep)!).sort((a, b) => b.totalMs - a.totalMs)[0];
      const own = durationMs[id] ?? 0;
      best.set(id, { totalMs: (longest?.totalMs ?? 0) + own, path: [...(longest?.path ?? []), id] });
    }
  }
  return [...best.values()].sort((a, b) => b.totalMs - a.totalMs)[0] ?? { path: [], totalMs: 0 };
}
