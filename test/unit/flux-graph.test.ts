import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { names, WILLINGHAM_FLUX_LEVELS } from '../helpers/flux.js';
import { buildGraph, criticalPath, FluxGraphError, parseKustomizations, toKustomization } from '../../src/domain/flux-graph.js';

const seedDir = 'lab/gitops/clusters/willingham-k8s';
const seed = parseKustomizations(readdirSync(seedDir).map((file) => readFileSync(join(seedDir, file), 'utf8')));
const k = (name: string, ...deps: string[]) => toKustomization({ metadata: { name }, spec: { dependsOn: deps.map((d) => ({ name: d })) } });

test("the cluster's Flux chain levels as documented: namespaces → crds → (routes, base) → operators → … → vpa", () => {
  const { levels } = buildGraph(seed);
  expect(names(levels)).toEqual(WILLINGHAM_FLUX_LEVELS);
});

test('the critical path follows the longest chain of durations', () => {
  const graph = buildGraph(seed);
  const durations = Object.fromEntries(graph.nodes.map((n) => [n.id, 100]));
  durations['flux-system/security'] = 500;
  expect(criticalPath(graph, durations)).toEqual({
    path: ['namespaces', 'crds', 'base', 'operators', 'security'].map((n) => `flux-system/${n}`),
    totalMs: 900,
  });
});

test('unknown dependencies and duplicates are all named', () => {
  expect(() => buildGraph([k('a', 'ghost'), k('b'), k('b', 'phantom')])).toThrow(
    new FluxGraphError('duplicate Kustomization flux-system/b\nflux-system/a depends on unknown flux-system/ghost\nflux-system/b depends on unknown flux-system/phantom'),
  );
});

test('a cycle is named in dependency order', () => {
  expect(() => buildGraph([k('a', 'c'), k('b', 'a'), k('c', 'b'), k('d')])).toThrow(
    'dependency cycle (→ reads "depends on"): flux-system/a → flux-system/c → flux-system/b → flux-system/a',
  );
});
