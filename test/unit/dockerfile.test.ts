import { existsSync, readFileSync } from 'node:fs';

// No Docker engine runs on this machine: the Dockerfile is checked statically here, and what it copies
// out of the build is checked against a real `npm run build` (jest builds before it runs).
const dockerfile = readFileSync('Dockerfile', 'utf8');
const instructions = dockerfile
  .split('\n')
  .filter((line) => line.trim() && !line.trim().startsWith('#'))
  .join('\n')
  .replace(/\\\n\s*/g, ' ')
  .split('\n');
const stages = instructions.reduce<string[][]>((all, line) => {
  if (line.startsWith('FROM ')) all.push([]);
  all.at(-1)?.push(line);
  return all;
}, []);
const runtime = stages.at(-1)!;

test('multi-stage: the build stage runs on the builder platform, the runtime is a separate stage', () => {
  expect(stages.length).toBeGreaterThanOrEqual(2);
  expect(stages[0]![0]).toMatch(/^FROM --platform=\$BUILDPLATFORM \S+ AS build$/);
  expect(runtime[0]).toMatch(/^FROM \$\{NODE_IMAGE\} AS runtime$/);
  expect(runtime.some((line) => /--platform/.test(line))).toBe(false);
});

test('the runtime runs as a numeric non-root user, matching the Deployment', () => {
  const user = runtime.find((line) => line.startsWith('USER '));
  expect(user).toBe('USER 10001:10001');
  expect(readFileSync('manifests/deployment.yaml', 'utf8')).toMatch(/runAsUser: 10001/);
});

test('the runtime ships the prebuilt workflow bundle and points the worker at it', () => {
  expect(runtime.join('\n')).toMatch(/WORKFLOW_BUNDLE=\/app\/dist\/workflow-bundle\.js/);
  expect(runtime).toContain('ENTRYPOINT ["node", "dist/src/worker.js"]');
  const copied = runtime.filter((line) => line.startsWith('COPY --from=build')).map((line) => line.split(' ')[2]!.replace('/src/', ''));
  expect(copied).toEqual(['package.json', 'node_modules', 'dist/src', 'dist/workflow-bundle.js']);
  for (const path of copied) expect(existsSync(path)).toBe(true);
  expect(existsSync('dist/src/worker.js')).toBe(true);
});

test('the runtime has kubectl for kubectl kustomize, built from the pinned wrapper module the tests build', () => {
  const kubectlStage = stages.find((stage) => / AS kubectl$/.test(stage[0]!))!;
  expect(kubectlStage[0]).toMatch(/^FROM --platform=\$BUILDPLATFORM \S+ AS kubectl$/);
  expect(kubectlStage).toContain('COPY lab/infra/go/kubernetes ./');
  expect(kubectlStage.some((line) => /GOARCH=\$TARGETARCH go build .* k8s\.io\/kubernetes\/cmd\/kubectl$/.test(line))).toBe(true);
  expect(existsSync('lab/infra/go/kubernetes/go.sum')).toBe(true);
  expect(runtime).toContain('COPY --from=kubectl /kubectl /usr/local/bin/kubectl');
});

test('the build context leaves out local installs and outputs', () => {
  const ignored = readFileSync('.dockerignore', 'utf8').split('\n');
  expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.lab']));
});
