import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { simpleGit } from 'simple-git';
import { FluxSourceMissing, kubectlKustomize, readFluxGraphAt } from '../../src/activities/gitops/flux-tree.js';
import type { FluxTreeInput } from '../../src/activities/gitops/flux-tree.js';
import { criticalPath, FluxGraphError } from '../../src/domain/flux-graph.js';
import { testEnv } from '../helpers/env.js';
import { names, WILLINGHAM_FLUX_LEVELS } from '../helpers/flux.js';

// The reader against real git repositories made from test/fixtures/flux-repos/<layout> (layouts that
// public homelab repos use), rendered by the kubectl the suite builds.
const render = kubectlKustomize(join(testEnv('kubeBin'), 'kubectl'));
const scratch = mkdtempSync(join(tmpdir(), 'flux-tree-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let repos = 0;
/** A git repo with one commit per step: a fixture folder to copy, or files to write (null deletes). */
async function repo(...steps: (string | Record<string, string | null>)[]) {
  const dir = join(scratch, `repo-${++repos}`);
  mkdirSync(dir);
  const git = simpleGit(dir);
  await git.init();
  await git.addConfig('user.name', 'test').addConfig('user.email', 'test@invalid');
  for (const step of steps) {
    if (typeof step === 'string') cpSync(step, dir, { recursive: true });
    else {
      for (const [path, text] of Object.entries(step)) {
        if (text === null) rmSync(join(dir, path));
        else {
          mkdirSync(join(dir, dirname(path)), { recursive: true });
          writeFileSync(join(dir, path), text);
        }
      }
    }
    await git.add(['-A', '.']).commit(`step ${steps.indexOf(step)}`);
  }
  return git;
}

const read = async (git: ReturnType<typeof simpleGit>, input: Partial<FluxTreeInput> & { strict?: boolean } = {}) =>
  readFluxGraphAt(git, { ref: 'HEAD', cluster: 'home', render, ...input });
const longestChain = (graph: Awaited<ReturnType<typeof read>>['graph']) => criticalPath(graph, Object.fromEntries(graph.nodes.map((n) => [n.id, 1]))).path;

const ks = (name: string, extra = '') =>
  `apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: ${name}\n  namespace: flux-system\nspec:\n  path: ./apps/${name}\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n${extra}`;
const dependsOn = (...deps: string[]) => `  dependsOn:\n${deps.map((d) => `    - name: ${d}\n`).join('')}`;
const app = (name: string) => ({ [`apps/${name}/config.yaml`]: `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: default\n` });

test('the seed GitOps repo plans to the documented levels', async () => {
  const { entry, graph } = await read(await repo('lab/gitops'), { cluster: 'willingham-k8s' });
  expect(entry).toEqual({ path: 'clusters/willingham-k8s', how: 'default' });
  expect(names(graph.levels)).toEqual(WILLINGHAM_FLUX_LEVELS);
  expect(graph.warnings).toEqual([]);
  expect(graph.nodes.find((n) => n.id === 'flux-system/base')?.source).toEqual({ file: 'clusters/willingham-k8s/base.yaml', line: 1 });
});

test('home-ops layout: entry found under kubernetes/flux/cluster, children from spec.path, namespace from the parent, postBuild from a ConfigMap', async () => {
  const { entry, graph } = await read(await repo('test/fixtures/flux-repos/home-ops'));
  expect(entry).toEqual({ path: 'kubernetes/flux/cluster', how: 'discovered' });
  expect(graph.levels).toEqual([
    ['flux-system/cluster-settings'],
    ['flux-system/cluster-apps'],
    ['database/cloudnative-pg', 'observability/prometheus-home'],
    ['database/postgres', 'observability/grafana'],
    ['media/jellyfin'],
  ]);
  const node = (id: string) => graph.nodes.find((n) => n.id === id)!;
  // The namespace comes from the including kustomization.yaml; dependsOn without one takes the dependent's.
  expect(node('database/postgres')).toMatchObject({ dependsOn: ['database/cloudnative-pg'], createdBy: 'flux-system/cluster-apps' });
  expect(node('media/jellyfin').dependsOn).toEqual(['database/postgres']);
  // Name, path and dependsOn substituted from the cluster-settings ConfigMap another Kustomization applies.
  expect(node('observability/prometheus-home')).toMatchObject({
    path: './kubernetes/apps/observability/prometheus/home',
    source: { file: 'kubernetes/apps/observability/ks.yaml', line: 3 },
  });
  expect(node('observability/grafana').dependsOn).toEqual(['observability/prometheus-home']);
  expect(node('flux-system/cluster-apps').createdBy).toBeUndefined();
  expect(longestChain(graph)).toEqual([
    'flux-system/cluster-settings',
    'flux-system/cluster-apps',
    'database/cloudnative-pg',
    'database/postgres',
    'media/jellyfin',
  ]);
  expect(graph.heldBack).toEqual([]);
  expect(graph.warnings).toEqual([]);
});

test('two clusters in one repo: each from its own entry, the bootstrap Kustomization before what it applies', async () => {
  const git = await repo('test/fixtures/flux-repos/fleet');
  const staging = (await read(git, { cluster: 'staging' })).graph;
  expect(staging.levels).toEqual([['flux-system/flux-system'], ['flux-system/infra-controllers'], ['flux-system/infra-configs'], ['flux-system/apps']]);
  expect(staging.nodes.find((n) => n.id === 'flux-system/apps')?.createdBy).toBe('flux-system/flux-system');

  const production = (await read(git, { cluster: 'production' })).graph;
  expect(production.levels).toEqual([
    ['flux-system/flux-system'],
    ['flux-system/infra-controllers'],
    ['flux-system/infra-configs', 'flux-system/monitoring'],
    ['flux-system/apps'],
  ]);
  expect(production.warnings).toEqual([
    'flux-system/monitoring (clusters/production/monitoring.yaml:2): not followed, its source is OCIRepository flux-system/monitoring-stack, not GitRepository flux-system/flux-system',
  ]);

  await expect(read(git, { cluster: 'dev' })).rejects.toThrow(
    new FluxSourceMissing('no clusters/dev at HEAD, and several cluster entries: clusters/production, clusters/staging; pass one of them as the entry folder'),
  );
  expect((await read(git, { cluster: 'dev', entryPath: './clusters/staging/' })).entry).toEqual({ path: 'clusters/staging', how: 'given' });
});

test('reads the tree at the ref asked for, not the newest commit', async () => {
  const git = await repo({ 'clusters/home/a.yaml': ks('a'), ...app('a') }, { 'clusters/home/b.yaml': ks('b', dependsOn('a')), ...app('b') });
  expect((await read(git, { ref: 'HEAD~1' })).graph.levels).toEqual([['flux-system/a']]);
  expect((await read(git)).graph.levels).toEqual([['flux-system/a'], ['flux-system/b']]);
  await expect(read(git, { ref: 'no-such-branch' })).rejects.toThrow(FluxSourceMissing);
});

test('a YAML syntax error names the file and line', async () => {
  const git = await repo({ 'clusters/home/a.yaml': ks('a'), ...app('a'), 'clusters/home/broken.yaml': 'kind: ConfigMap\nmetadata:\n  name: [oops\n' });
  await expect(read(git)).rejects.toThrow(/^clusters\/home\/broken\.yaml:4:1: YAML syntax error: /);
  await expect(read(git)).rejects.toThrow(FluxGraphError);
});

test('a kustomize error names the folder and who renders it', async () => {
  const git = await repo({
    'clusters/home/a.yaml': ks('a'),
    'apps/a/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - missing.yaml\n',
  });
  await expect(read(git)).rejects.toThrow(
    /^kustomize build of apps\/a \(spec\.path of flux-system\/a \(clusters\/home\/a\.yaml:1\)\) failed: .*missing\.yaml/s,
  );
});

test('a cycle names each member with its file', async () => {
  const git = await repo({ 'clusters/home/a.yaml': ks('a', dependsOn('b')), 'clusters/home/b.yaml': ks('b', dependsOn('a')), ...app('a'), ...app('b') });
  await expect(read(git)).rejects.toThrow(
    new FluxGraphError(
      'dependency cycle (→ reads "waits for"): flux-system/a (clusters/home/a.yaml:1) → flux-system/b (clusters/home/b.yaml:1) → flux-system/a (clusters/home/a.yaml:1)',
    ),
  );
});

test('an unknown dependsOn holds back that Kustomization and its dependents; --strict makes it an error', async () => {
  const git = await repo({
    'clusters/home/a.yaml': ks('a'),
    'clusters/home/b.yaml': ks('b', dependsOn('ghost')),
    'clusters/home/c.yaml': ks('c', dependsOn('b')),
    ...app('a'),
    ...app('b'),
    ...app('c'),
  });
  const { graph } = await read(git);
  expect(graph.levels).toEqual([['flux-system/a']]);
  expect(graph.heldBack).toEqual([
    { id: 'flux-system/b', reason: 'depends on unknown flux-system/ghost' },
    { id: 'flux-system/c', reason: 'waits for held-back flux-system/b' },
  ]);
  expect(graph.warnings).toEqual(['flux-system/b (clusters/home/b.yaml:1) depends on unknown flux-system/ghost']);
  await expect(read(git, { strict: true })).rejects.toThrow(new FluxGraphError('flux-system/b (clusters/home/b.yaml:1) depends on unknown flux-system/ghost'));
});

test('a spec.path that is not in the repo is named with the Kustomization', async () => {
  const git = await repo({ 'clusters/home/a.yaml': ks('a') });
  await expect(read(git)).rejects.toThrow(new FluxGraphError('flux-system/a (clusters/home/a.yaml:1): spec.path ./apps/a is not a folder at HEAD'));
});

test('a substituteFrom that nothing in the repo provides is a warning; optional ones are not', async () => {
  const postBuild =
    '  postBuild:\n    substituteFrom:\n      - kind: ConfigMap\n        name: made-by-hand\n      - kind: Secret\n        name: maybe\n        optional: true\n';
  const git = await repo({ 'clusters/home/a.yaml': ks('a', postBuild), ...app('a') });
  const { graph } = await read(git);
  expect(graph.levels).toEqual([['flux-system/a']]);
  expect(graph.warnings).toEqual([
    'flux-system/a (clusters/home/a.yaml:1): substituteFrom ConfigMap flux-system/made-by-hand is not in the repo; substituted without it',
  ]);
});
