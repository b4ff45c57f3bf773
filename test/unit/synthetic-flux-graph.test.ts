import { syntheticGraph } from '../../lab/flux-repo.js';
import { buildGraph, toKustomization } from '../../src/domain/flux-graph.js';

const levelsOf = (graph: ReturnType<typeof syntheticGraph>) =>
  buildGraph(
    graph.map(({ name, dependsOn }) => toKustomization({ metadata: { name }, spec: { dependsOn: dependsOn.map((d) => ({ name: d })) } })),
    {
      strict: true,
    },
  ).levels;

describe('syntheticGraph (the scale bench graph)', () => {
  it('gives 500 Kustomizations in 10 levels, each past the roots depending on 1-3 earlier ones, hubs depended on widely', () => {
    const graph = syntheticGraph(500);
    expect(graph).toHaveLength(500);
    expect(new Set(graph.map((k) => k.name)).size).toBe(500);
    expect(levelsOf(graph).map((level) => level.length)).toEqual([3, 12, 25, 45, 70, 90, 90, 80, 55, 30]);
    expect(new Set(graph.slice(3).map((k) => k.dependsOn.length))).toEqual(new Set([1, 2, 3]));
    expect(graph.slice(0, 3).every((k) => k.dependsOn.length === 0)).toBe(true);
    const dependents = (name: string) => graph.filter((k) => k.dependsOn.includes(name)).length;
    for (const hub of ['crds', 'namespaces', 'cluster-config']) expect(dependents(hub)).toBeGreaterThan(50);
  });

  it('is the same graph for the same seed, another for another, and any size adds up', () => {
    expect(syntheticGraph(500, 17)).toEqual(syntheticGraph(500, 17));
    expect(syntheticGraph(500, 18)).not.toEqual(syntheticGraph(500, 17));
    for (const count of [1, 3, 12, 50, 137, 1000]) expect(syntheticGraph(count)).toHaveLength(count);
    expect(levelsOf(syntheticGraph(50))).toHaveLength(10);
  });
});
