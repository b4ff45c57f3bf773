import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { simpleGit } from 'simple-git';
import { testEnv } from '../helpers/env.js';
import { names, WILLINGHAM_FLUX_LEVELS } from '../helpers/flux.js';

// The built `cluster-ops flux plan`, offline: no Temporal, no cluster, only git and kubectl.
const scratch = mkdtempSync(join(tmpdir(), 'flux-plan-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let repos = 0;
async function repoWith(fixture: string | undefined, files: Record<string, string> = {}) {
  const dir = join(scratch, `repo-${++repos}`);
  mkdirSync(dir);
  if (fixture) cpSync(fixture, dir, { recursive: true });
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, dirname(path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  const git = simpleGit(dir);
  await git.init();
  await git.addConfig('user.name', 'test').addConfig('user.email', 'test@invalid');
  await git.add('.').commit('config');
  return dir;
}

async function plan(...args: string[]) {
  const env = { PATH: process.env.PATH, KUBECTL: join(testEnv('kubeBin'), 'kubectl') };
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['dist/src/client/cli.js', 'flux', 'plan', ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const ks = (name: string, ...deps: string[]) =>
  `apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: ${name}\n  namespace: flux-system\nspec:\n  path: ./apps/${name}\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n` +
  (deps.length ? `  dependsOn:\n${deps.map((d) => `    - name: ${d}\n`).join('')}` : '');
const app = (name: string) => ({ [`apps/${name}/config.yaml`]: `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: default\n` });

test("prints the cluster's levels, wrapped, and the critical path, from the GitOps repo without touching a cluster", async () => {
  const repo = await repoWith('lab/gitops');
  const result = await plan('--repo', repo);
  expect(result).toMatchObject({ code: 0, stderr: '' });
  expect(result.stdout.trimEnd().split('\n')).toEqual([
    'entry: clusters/willingham-k8s (default)',
    'level 0 (1): flux-system/namespaces',
    'level 1 (1): flux-system/crds',
    'level 2 (2): flux-system/base, flux-system/routes',
    'level 3 (1): flux-system/operators',
    'level 4 (6): flux-system/argo, flux-system/dev-platform, flux-system/messaging, flux-system/network,',
    '             flux-system/observability, flux-system/security',
    'level 5 (1): flux-system/vpa',
    'critical path (6): flux-system/namespaces → flux-system/crds → flux-system/base →',
    '                   flux-system/operators → flux-system/observability → flux-system/vpa',
  ]);
  const json = JSON.parse((await plan('--repo', repo, '--json')).stdout) as { levels: string[][] };
  expect(names(json.levels)).toEqual(WILLINGHAM_FLUX_LEVELS);
});

test('--json carries the entry, levels, nodes, edges and critical path', async () => {
  const repo = await repoWith('test/fixtures/flux-repos/home-ops');
  const json = JSON.parse((await plan('--repo', repo, '--cluster', 'home', '--json')).stdout) as Record<string, unknown>;
  expect(json.entry).toEqual({ path: 'kubernetes/flux/cluster', how: 'discovered' });
  expect(json.levels).toEqual([
    ['flux-system/cluster-settings'],
    ['flux-system/cluster-apps'],
    ['database/cloudnative-pg', 'observability/prometheus-home'],
    ['database/postgres', 'observability/grafana'],
    ['media/jellyfin'],
  ]);
  expect(json.nodes).toContainEqual({
    id: 'media/jellyfin',
    name: 'jellyfin',
    namespace: 'media',
    path: './kubernetes/apps/media/jellyfin/app',
    suspend: false,
    dependsOn: ['database/postgres'],
    createdBy: 'flux-system/cluster-apps',
    source: { file: 'kubernetes/apps/media/jellyfin/ks.yaml', line: 1 },
  });
  expect(json.edges).toEqual(
    expect.arrayContaining([
      { from: 'flux-system/cluster-settings', to: 'flux-system/cluster-apps', kind: 'dependsOn' },
      { from: 'flux-system/cluster-apps', to: 'media/jellyfin', kind: 'createdBy' },
      { from: 'database/postgres', to: 'media/jellyfin', kind: 'dependsOn' },
    ]),
  );
  expect(json.criticalPath).toEqual([
    'flux-system/cluster-settings',
    'flux-system/cluster-apps',
    'database/cloudnative-pg',
    'database/postgres',
    'media/jellyfin',
  ]);
  expect(json).toMatchObject({ heldBack: [], warnings: [] });
});

test('an unknown dependsOn is a warning that holds back its Kustomization; with --strict it exits 2', async () => {
  const repo = await repoWith(undefined, { 'clusters/lab/a.yaml': ks('a'), 'clusters/lab/c.yaml': ks('c', 'ghost'), ...app('a'), ...app('c') });
  const result = await plan('--repo', repo, '--cluster', 'lab');
  expect(result.code).toBe(0);
  expect(result.stdout).toContain('held back (1):\n  flux-system/c: depends on unknown flux-system/ghost');
  expect(result.stdout).toContain('warnings (1):\n  - flux-system/c (clusters/lab/c.yaml:1) depends on unknown flux-system/ghost');
  expect(await plan('--repo', repo, '--cluster', 'lab', '--strict')).toMatchObject({
    code: 2,
    stderr: 'cluster-ops: flux-system/c (clusters/lab/c.yaml:1) depends on unknown flux-system/ghost\n',
  });
});

test('a YAML syntax error or a cycle exits 2 and names the files', async () => {
  const broken = await repoWith(undefined, { 'clusters/lab/a.yaml': `${ks('a')}  dependsOn: [b\n`, ...app('a') });
  const syntax = await plan('--repo', broken, '--cluster', 'lab');
  expect(syntax).toMatchObject({ code: 2, stdout: '' });
  expect(syntax.stderr).toMatch(/^cluster-ops: clusters\/lab\/a\.yaml:\d+:\d+: YAML syntax error: /);

  const cycle = await repoWith(undefined, { 'clusters/lab/a.yaml': ks('a', 'b'), 'clusters/lab/b.yaml': ks('b', 'a'), ...app('a'), ...app('b') });
  expect(await plan('--repo', cycle, '--cluster', 'lab')).toMatchObject({
    code: 2,
    stderr:
      'cluster-ops: dependency cycle (→ reads "waits for"): flux-system/a (clusters/lab/a.yaml:1) → flux-system/b (clusters/lab/b.yaml:1) → flux-system/a (clusters/lab/a.yaml:1)\n',
  });
  expect(await plan('--repo', cycle, '--cluster', 'lab', '--path', 'nowhere')).toMatchObject({
    code: 2,
    stderr: 'cluster-ops: entry folder nowhere does not exist at HEAD\n',
  });
});
