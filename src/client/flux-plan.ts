import { simpleGit } from 'simple-git';
import { kubectlKustomize, readFluxGraphAt } from '../activities/gitops/flux-tree.js';
import type { FluxEntry } from '../activities/gitops/flux-tree.js';
import { criticalPath } from '../domain/flux-graph.js';
import type { FluxGraph } from '../domain/flux-graph.js';

export interface FluxPlanOptions {
  repo: string;
  ref: string;
  cluster: string;
  entryPath?: string;
  strict: boolean;
  kubectl: string;
}

export interface FluxPlan {
  entry: FluxEntry;
  graph: FluxGraph;
  /** from reconciles before to */
  edges: { from: string; to: string; kind: 'dependsOn' | 'createdBy' }[];
  /** The longest chain of Kustomizations, each waiting for the one before (no durations offline). */
  criticalPath: string[];
}

/** Reads the cluster's Flux graph from a GitOps checkout at a ref, offline (no cluster, no Temporal). */
export async function planFromRepo(options: FluxPlanOptions): Promise<FluxPlan> {
  const { entry, graph } = await readFluxGraphAt(simpleGit(options.repo), {
    ref: options.ref,
    cluster: options.cluster,
    entryPath: options.entryPath,
    strict: options.strict,
    render: kubectlKustomize(options.kubectl),
  });
  const known = new Set(graph.nodes.map((node) => node.id));
  const edges = graph.nodes.flatMap((node) => [
    ...node.dependsOn.filter((dep) => known.has(dep)).map((dep) => ({ from: dep, to: node.id, kind: 'dependsOn' as const })),
    ...(node.createdBy && known.has(node.createdBy) ? [{ from: node.createdBy, to: node.id, kind: 'createdBy' as const }] : []),
  ]);
  const oneEach = Object.fromEntries(graph.nodes.map((node) => [node.id, 1]));
  return { entry, graph, edges, criticalPath: criticalPath(graph, oneEach).path };
}

export function planJson({ entry, graph, edges, criticalPath: path }: FluxPlan) {
  return { entry, levels: graph.levels, nodes: graph.nodes, edges, criticalPath: path, heldBack: graph.heldBack, warnings: graph.warnings };
}

const ENTRY_HOW: Record<FluxEntry['how'], string> = {
  given: 'given',
  default: 'default',
  discovered: 'discovered: the default clusters/<cluster> does not exist',
};

/** The plan as text: ids wrapped to `width` columns, continuation lines indented under the first id. */
export function renderPlan({ entry, graph, criticalPath: path }: FluxPlan, width = 100): string {
  const suspended = new Set(graph.nodes.filter((node) => node.suspend).map((node) => node.id));
  const lines = [`entry: ${entry.path || '.'} (${ENTRY_HOW[entry.how]})`];
  graph.levels.forEach((level, i) => {
    const ids = level.map((id) => (suspended.has(id) ? `${id} (suspended)` : id));
    lines.push(...wrap(`level ${i} (${level.length}): `, ids, ', ', width));
  });
  if (path.length) lines.push(...wrap(`critical path (${path.length}): `, path, ' → ', width));
  if (graph.heldBack.length) lines.push(`held back (${graph.heldBack.length}):`, ...graph.heldBack.map(({ id, reason }) => `  ${id}: ${reason}`));
  if (graph.warnings.length) lines.push(`warnings (${graph.warnings.length}):`, ...graph.warnings.map((warning) => `  - ${warning}`));
  return lines.join('\n');
}

function wrap(prefix: string, items: string[], separator: string, width: number): string[] {
  const pieces = items.map((item, i) => (i < items.length - 1 ? item + separator.trimEnd() : item));
  const indent = ' '.repeat(prefix.length);
  const lines = [prefix];
  for (const piece of pieces) {
    const current = lines.at(-1)!;
    const fresh = current === prefix || current === indent;
    if (!fresh && current.length + 1 + piece.length > width) lines.push(indent + piece);
    else lines[lines.length - 1] = fresh ? current + piece : `${current} ${piece}`;
  }
  return lines;
}
