import { simpleGit } from 'simple-git';
import { buildGraph, parseKustomizations } from '../domain/flux-graph.js';
import type { FluxGraph } from '../domain/flux-graph.js';

/** Reads clusters/<cluster>/*.yaml of a GitOps checkout at a ref and builds the Flux graph, offline. */
export async function planFromRepo(repo: string, ref: string, cluster: string): Promise<FluxGraph> {
  const git = simpleGit(repo);
  const dir = `clusters/${cluster}`;
  const files = (await git.raw(['ls-tree', '--name-only', `${ref}:${dir}`]))
    .split('\n')
    .filter((file) => /\.ya?ml$/.test(file));
  if (files.length === 0) throw new Error(`no YAML files in ${dir} at ${ref}`);
  const texts = await Promise.all(files.map((file) => git.show([`${ref}:${dir}/${file}`])));
  return buildGraph(parseKustomizations(texts));
}

export function renderPlan(graph: FluxGraph): string {
  return graph.levels
    .map((level, i) => `level ${i}: ${level.map((id) => {
      const node = graph.nodes.find((n) => n.id === id)!;
      return `${node.name}${node.suspend ? ' (suspended)' : ''}`;
    }).join(', ')}`)
    .join('\n');
}
