// ESLint flat config (`npm run lint`, run by `npm test`): typescript-eslint's recommended rules, the
// promise rules that need types, and the lines that keep workflow code deterministic
// (docs/architecture.md, "Lines that keep it clean") as errors that say why.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const DETERMINISM = 'workflow code must be deterministic and replayable';

// Code that runs in Temporal's workflow sandbox: the workflows, and the pure modules they import
// (domain/ and schemas/ are "pure logic, no I/O", failures.ts holds the failure types workflows throw;
// zod, yaml and @temporalio/common stay allowed there).
const SANDBOXED = ['src/workflows/**/*.ts', 'src/domain/**/*.ts', 'src/schemas/**/*.ts', 'src/failures.ts'];

const noLab = {
  regex: '^(\\.\\./)+lab(/.*)?$',
  message: 'src/ never imports lab/: the lab holds stand-ins for the tests and `npm run lab`, not the service.',
};

// Every Node built-in by its bare name (`fs`, `fs/promises`), taken from Node itself; `node:*` is a pattern below.
const nodeBuiltins = builtinModules.filter((name) => !name.startsWith('node:'));
const NODE_MESSAGE = `${DETERMINISM}: Node built-ins are I/O, clocks or entropy the replay cannot see, and are missing from the workflow sandbox; do I/O in an activity.`;

// What sandboxed code may not load at run time. Type-only imports are erased by the compiler, so they
// stay allowed (`import type { V1Node } from '@kubernetes/client-node'` runs nothing).
const sandboxImports = {
  paths: nodeBuiltins.map((name) => ({ name, allowTypeImports: true, message: NODE_MESSAGE })),
  patterns: [
    { regex: '^node:', allowTypeImports: true, message: NODE_MESSAGE },
    {
      regex: '^(@kubernetes/client-node|simple-git|octokit|@octokit/.*|@infisical/sdk|@keycloak/keycloak-admin-client)(/.*)?$',
      allowTypeImports: true,
      message: `${DETERMINISM}: this is an I/O client (cluster, git, GitHub, secrets store, Keycloak); do I/O in an activity.`,
    },
    {
      regex: '^@temporalio/(client|worker|activity|testing)(/.*)?$',
      allowTypeImports: true,
      message: `${DETERMINISM}: only @temporalio/workflow and @temporalio/common work in the sandbox; client, worker and activity APIs do I/O.`,
    },
    {
      // A value import would bundle the activities (and their clients) into the workflow code.
      regex: '(^|/)activities(/.*)?$',
      allowTypeImports: true,
      message: `${DETERMINISM}: import activities as types only (\`import type\`) and call them through proxyActivities; do I/O in an activity.`,
    },
    noLab,
  ],
};

// The sandbox swaps Date, Math.random, setTimeout and clearTimeout for deterministic versions (workflow
// time, a seeded PRNG, durable timers), and console for a replay-aware logger, so those stay allowed.
// These globals are Node's or I/O, or depend on the garbage collector: the sandbox lacks them (or throws),
// and tsconfig's Node types would let them through the compiler.
const sandboxGlobals = [
  ...['process', 'Buffer', 'global', '__dirname', '__filename', 'require', 'fetch', 'crypto', 'performance'].map((name) => ({
    name,
    message: `${DETERMINISM}: \`${name}\` is Node or I/O and is missing from the workflow sandbox; do I/O in an activity.`,
  })),
  ...['setInterval', 'clearInterval', 'setImmediate', 'clearImmediate', 'queueMicrotask'].map((name) => ({
    name,
    message: `${DETERMINISM}: \`${name}\` is missing from the workflow sandbox; wait with sleep() or condition() from @temporalio/workflow.`,
  })),
  ...['WeakRef', 'FinalizationRegistry'].map((name) => ({
    name,
    message: `${DETERMINISM}: garbage collection is not deterministic (the sandbox throws on \`${name}\`).`,
  })),
];

export default defineConfig(
  { ignores: ['dist/', 'coverage/', '.lab/', 'test-output/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // tsc's noUnusedLocals/noUnusedParameters already cover TypeScript; this adds the JS files, with
      // the usual `_` escape. Unused catch bindings are fine (`catch (error) { return undefined; }`).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Under verbatimModuleSyntax, `import { type A } from 'x'` still loads 'x' at run time; `import type` does not.
      '@typescript-eslint/no-import-type-side-effects': 'error',
    },
  },
  {
    // Type-aware, but only the promise rules: an un-awaited activity call, sleep() or condition() is a
    // silent bug in a workflow, and a floating promise in an activity loses its error. Building the type
    // program is most of the cost (about 25 s CPU against 7 s without types); the rest of
    // recommendedTypeChecked mostly flagged this repo's idioms (`rows[0]!` without
    // noUncheckedIndexedAccess, activity methods passed unbound in tests, rethrowing unknown errors).
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            noLab,
            {
              regex: '^@temporalio/workflow(/.*)?$',
              allowTypeImports: true,
              message: '@temporalio/workflow works only inside the workflow sandbox; activities, the worker and the client cannot call it.',
            },
          ],
        },
      ],
    },
  },
  {
    files: SANDBOXED,
    rules: {
      'no-restricted-imports': ['error', sandboxImports],
      'no-restricted-syntax': [
        'error',
        { selector: 'ImportExpression', message: `${DETERMINISM}: dynamic import() is not bundled into the workflow sandbox; import statically.` },
      ],
      'no-restricted-globals': ['error', ...sandboxGlobals],
    },
  },
);
