import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { names, WILLINGHAM_FLUX_LEVELS } from '../helpers/flux.js';
import { buildGraph, criticalPath, FluxGraphError, isFluxKustomization, toKustomization } from '../../src/domain/flux-graph.js';
import type { Kustomization } from '../../src/domain/flux-graph.js';
import { postBuildVariables, substitute, SubstitutionError, variablesOf } from '../../src/domain/flux-postbuild.js';

const seedDir = 'lab/gitops/clusters/willingham-k8s';
const seed = readdirSync(seedDir)
  .flatMap((file) => parseAllDocuments(readFileSync(join(seedDir, file), 'utf8')).map((doc) => doc.toJS()))
  .filter(isFluxKustomization)
  .map((raw) => toKustomization(raw));
const k = (name: string, ...deps: string[]): Kustomization => toKustomization({ metadata: { name }, spec: { dependsOn: deps.map((d) => ({ name: d })) } });
const child = (name: string, parent: string, ...deps: string[]): Kustomization => ({ ...k(name, ...deps), createdBy: `flux-system/${parent}` });
const at = (node: Kustomization, line: number): Kustomization => ({ ...node, source: { file: `clusters/lab/${node.name}.yaml`, line } });

test("the cluster's Flux chain levels as documented: namespaces → crds → (routes, base) → operators → … → vpa", () => {
  const { levels, heldBack, warnings } = buildGraph(seed);
  expect(names(levels)).toEqual(WILLINGHAM_FLUX_LEVELS);
  expect(heldBack).toEqual([]);
  expect(warnings).toEqual([]);
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

test('a parent comes before the children its spec.path creates, and the critical path follows that edge too', () => {
  const graph = buildGraph([k('apps', 'settings'), k('settings'), child('db', 'apps'), child('web', 'apps', 'db'), k('lonely')]);
  expect(graph.levels).toEqual([['flux-system/lonely', 'flux-system/settings'], ['flux-system/apps'], ['flux-system/db'], ['flux-system/web']]);
  expect(criticalPath(graph, { 'flux-system/lonely': 20, 'flux-system/apps': 10, 'flux-system/db': 5, 'flux-system/web': 10 })).toEqual({
    path: ['flux-system/settings', 'flux-system/apps', 'flux-system/db', 'flux-system/web'],
    totalMs: 25,
  });
});

test('duplicates are all named, with file and line where known', () => {
  expect(() => buildGraph([at(k('b'), 1), k('a'), at(k('b'), 7), k('a')])).toThrow(
    new FluxGraphError(
      'duplicate Kustomization flux-system/b (clusters/lab/b.yaml:1), flux-system/b (clusters/lab/b.yaml:7)\nduplicate Kustomization flux-system/a, flux-system/a',
    ),
  );
});

test('an unknown dependsOn holds back that node and whatever waits for it (dependsOn or createdBy); strict throws', () => {
  const nodes = [k('a'), at(k('b', 'ghost'), 3), k('c', 'b'), child('d', 'c'), k('e', 'a')];
  const graph = buildGraph(nodes);
  expect(graph.levels).toEqual([['flux-system/a'], ['flux-system/e']]);
  expect(graph.heldBack).toEqual([
    { id: 'flux-system/b', reason: 'depends on unknown flux-system/ghost' },
    { id: 'flux-system/c', reason: 'waits for held-back flux-system/b' },
    { id: 'flux-system/d', reason: 'waits for held-back flux-system/c' },
  ]);
  expect(graph.warnings).toEqual(['flux-system/b (clusters/lab/b.yaml:3) depends on unknown flux-system/ghost']);
  expect(() => buildGraph(nodes, { strict: true })).toThrow(new FluxGraphError('flux-system/b (clusters/lab/b.yaml:3) depends on unknown flux-system/ghost'));
});

test('a cycle is named in order, through either edge kind', () => {
  expect(() => buildGraph([k('a', 'c'), k('b', 'a'), k('c', 'b'), k('d')])).toThrow(
    'dependency cycle (→ reads "waits for"): flux-system/a → flux-system/c → flux-system/b → flux-system/a',
  );
  expect(() => buildGraph([at(child('a', 'b'), 2), at(k('b', 'a'), 5)])).toThrow(
    'dependency cycle (→ reads "waits for"): flux-system/a (clusters/lab/a.yaml:2) → flux-system/b (clusters/lab/b.yaml:5) → flux-system/a (clusters/lab/a.yaml:2)',
  );
});

test("a live Kustomization's creator comes from kustomize-controller's labels; the bootstrap one applying itself is no edge", () => {
  const labels = (name: string, namespace = 'flux-system') => ({
    'kustomize.toolkit.fluxcd.io/name': name,
    'kustomize.toolkit.fluxcd.io/namespace': namespace,
  });
  const app = toKustomization({
    metadata: { name: 'web', namespace: 'apps', labels: labels('cluster-apps') },
    spec: { dependsOn: [{ name: 'db' }, { name: 'vars', namespace: 'flux-system' }] },
  });
  expect(app).toEqual({
    id: 'apps/web',
    name: 'web',
    namespace: 'apps',
    path: './',
    suspend: false,
    dependsOn: ['apps/db', 'flux-system/vars'],
    createdBy: 'flux-system/cluster-apps',
  });
  expect(toKustomization({ metadata: { name: 'flux-system', labels: labels('flux-system') } }).createdBy).toBeUndefined();
  // A live graph read from one namespace: a creator outside it has run already.
  expect(buildGraph([app, toKustomization({ metadata: { name: 'db', namespace: 'apps' } }), toKustomization({ metadata: { name: 'vars' } })]).levels).toEqual([
    ['apps/db', 'flux-system/vars'],
    ['apps/web'],
  ]);
});

test("kustomize's own Kustomization (a kustomization.yaml) is not a Flux one", () => {
  expect(isFluxKustomization({ apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization' })).toBe(true);
  expect(isFluxKustomization({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization' })).toBe(false);
  expect(isFluxKustomization({ kind: 'Kustomization' })).toBe(false);
});

describe('postBuild substitution', () => {
  test('braced variables, defaults for unset (or empty with :), $$ escapes', () => {
    const vars = { NAME: 'home', EMPTY: '' };
    expect(substitute('a-${NAME} ${MISSING} ${MISSING:=x} ${EMPTY:=y} ${EMPTY=z} ${MISSING-w} ${NAME:-v} $${NAME} $NAME', vars)).toBe(
      'a-home  x y  w home ${NAME} $NAME',
    );
  });

  test('substitute wins over substituteFrom, later sources over earlier; Secret data is base64, stringData plain', () => {
    const sources: Record<string, Record<string, string>> = {
      settings: variablesOf({ kind: 'ConfigMap', data: { A: 'from-settings', B: 'b\n' } }),
      secrets: variablesOf({ kind: 'Secret', data: { A: Buffer.from('from-secret').toString('base64') }, stringData: { C: 'plain' } }),
    };
    const vars = postBuildVariables(
      {
        substituteFrom: [
          { kind: 'ConfigMap', name: 'settings' },
          { kind: 'Secret', name: 'secrets' },
        ],
        substitute: { C: 'inline' },
      },
      (ref) => sources[ref.name]!,
    );
    expect(vars).toEqual({ A: 'from-secret', B: 'b', C: 'inline' });
    expect(() => postBuildVariables({ substitute: { 'bad-name': 'x' } }, () => ({}))).toThrow(SubstitutionError);
  });
});
