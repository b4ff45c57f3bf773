import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';

// The determinism lines of docs/architecture.md are lint rules (eslint.config.js): these snippets are
// linted as if they lived at the given path, through the same config `npm run lint` uses. The probe files
// do not exist, so the type-aware rules (which need the file in the TypeScript program) are off here.
const eslint = new ESLint({ overrideConfig: tseslint.configs.disableTypeChecked });

async function problems(code: string, filePath: string) {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.map(({ ruleId, message }) => ({ ruleId, message }));
}

const NODE_FS = `import { readFileSync } from 'node:fs';\nexport const read = () => readFileSync('/etc/hostname', 'utf8');\n`;
const KUBE_CLIENT = `import { KubeConfig } from '@kubernetes/client-node';\nexport const kubeConfig = () => new KubeConfig();\n`;
const ACTIVITY_VALUE = `import { createActivities } from '../activities/index.js';\nexport const make = createActivities;\n`;

const WORKFLOW = 'src/workflows/lint-probe.ts';
const ACTIVITY = 'src/activities/lint-probe.ts';
const DETERMINISM = expect.stringContaining('workflow code must be deterministic');

test.each([
  ['a Node built-in', NODE_FS, /do I\/O in an activity/],
  ['the Kubernetes client', KUBE_CLIENT, /I\/O client.*do I\/O in an activity/],
  ['activities as values', ACTIVITY_VALUE, /import activities as types only/],
])('workflow code may not import %s', async (_what, code, why) => {
  const found = await problems(code, WORKFLOW);
  expect(found).toEqual([{ ruleId: 'no-restricted-imports', message: DETERMINISM }]);
  expect(found[0]!.message).toMatch(why);
});

test.each([
  ['a Node built-in', NODE_FS],
  ['the Kubernetes client', KUBE_CLIENT],
  ['activities as values', ACTIVITY_VALUE],
])('activity code may import %s', async (_what, code) => {
  expect(await problems(code, ACTIVITY)).toEqual([]);
});

test('workflow code may import activities as types, and use the clock, randomness and timers the sandbox makes deterministic', async () => {
  const code = [
    `import type { Activities } from '../activities/index.js';`,
    `import { proxyActivities } from '@temporalio/workflow';`,
    `const { cordonNode } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute' });`,
    `export const probe = () => [cordonNode, Date.now(), new Date(), Math.random(), setTimeout(() => undefined, 10)];`,
  ].join('\n');
  expect(await problems(`${code}\n`, WORKFLOW)).toEqual([]);
});

test('workflow code may not read Node globals the sandbox lacks', async () => {
  const found = await problems(`export const region = () => process.env.REGION;\n`, WORKFLOW);
  expect(found).toEqual([{ ruleId: 'no-restricted-globals', message: DETERMINISM }]);
});

test('nothing in src/ imports the lab', async () => {
  const found = await problems(
    `import { startControlPlane } from '../../lab/kube/control-plane.js';\nexport const start = startControlPlane;\n`,
    'src/client/lint-probe.ts',
  );
  expect(found).toEqual([{ ruleId: 'no-restricted-imports', message: expect.stringContaining('src/ never imports lab/') }]);
});
