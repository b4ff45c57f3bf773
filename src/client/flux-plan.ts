import { simpleGit } from 'simple-git';
import { readClusterManifests } from '../activities/gitops/repo.js';
import { buildGraph, parseKustomizations } from '../domain/flux-graph.js';
import type { FluxGraph } from '../domain/flux-graph.js';

/** Reads clusters/<cluster>/*.yaml of a GitOps checkout at a ref and builds the Flux graph, offline. */
export async function planFromRepo(repo: string, ref: string, cluster: string): Promise<FluxGraph> {
  return buildGraph(parseKustomizations(await readClusterManifests(simpleGit(repo), ref, cluster)));
}

export function renderPlan(graph: FluxGraph): string {
  return graph.levels
    .map((level, i) => `level ${i}: ${level.map((id) => {
      const node = graph.nodes.find((n) => n.id === id)!;
      return `${node.name}${node.suspend ? ' (suspended)' : ''}`;
    }).join(', ')}`)
    .join('\n');
}
