import { readFileSync } from 'node:fs';
import { FailureType } from '../../src/failures.js';

test('docs/failures.md explains exactly the failure types src/failures.ts defines', () => {
  const documented = [...readFileSync('docs/failures.md', 'utf8').matchAll(/^\| ([A-Z][A-Za-z]+) \|/gm)].map((m) => m[1]);
  expect(documented.sort()).toEqual(Object.values(FailureType).sort());
});

test('every failure type is its own name: a type is never renamed behind its constant', () => {
  for (const [key, value] of Object.entries(FailureType)) expect(value).toBe(key);
});
