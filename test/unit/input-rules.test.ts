import { cronProblem } from '../../src/domain/cron.js';
import { absolutePath, containerImage, dnsLabel, gitRef, kubeName, labelSelector, repoPath, serviceName, workflowIdInput } from '../../src/schemas/common.js';
import { MAX_INPUT_BYTES, safeParseInput } from '../../src/schemas/validate.js';
import { DrainNodeInput } from '../../src/schemas/drain-node.js';

// The name and path rules the bad-input corpus (test/e2e/bad-input.test.ts) shows refusing attacks must
// still take what real inputs look like.
const accepts = (schema: { safeParse(value: unknown): { success: boolean } }, values: string[]) => values.filter((value) => !schema.safeParse(value).success);

test('names, paths, refs, images and selectors that real inputs use are accepted', () => {
  expect(accepts(kubeName, ['talos-7aj-lwl', 'node-1.rack-2', 'a'])).toEqual([]);
  expect(accepts(dnsLabel, ['flux-system', 'willingham-k8s', 'temporal-system'])).toEqual([]);
  expect(accepts(serviceName, ['allreduce', 'bench-2'])).toEqual([]);
  expect(
    accepts(repoPath, ['inventory/nodes.yaml', 'base/sriov-device-plugin/sriov-device-plugin.yaml', 'clusters/willingham-k8s', 'apps/_shared/x.yml']),
  ).toEqual([]);
  expect(accepts(absolutePath('/x'), ['/', '/keycloak', '/opt/nccl-tests/build', '/keycloak/grafana/oidc'])).toEqual([]);
  expect(accepts(gitRef, ['master', 'v1.2.3', 'release/2025-01', 'refs/heads/main', '3f2a9c1d0e4b5a6978c1d2e3f4a5b6c7d8e9f001'])).toEqual([]);
  expect(
    accepts(containerImage, [
      'i',
      'ubuntu',
      'ubuntu:24.04',
      'registry.invalid/sim:1',
      'ghcr.io/example/nccl-tests:2.18.3',
      'nvcr.io/nvidia/pytorch:24.01-py3',
      'localhost:5000/team/app_x@sha256:' + 'a'.repeat(64),
    ]),
  ).toEqual([]);
  expect(
    accepts(labelSelector, [
      'feature.node.kubernetes.io/network-sriov.capable=true',
      'cluster-ops.test/group=bad-input-1a2b3c',
      'a,b',
      '!a',
      'a!=b',
      'a==b',
      'zone in (a, b),tier notin (x)',
      'a=',
    ]),
  ).toEqual([]);
  expect(accepts(workflowIdInput, ['drain-node-talos-7aj-lwl', 'node-maintenance-lab/talos-7aj-lwl', 'rotate-oidc-secrets', 'x@2025-01-01T00:00'])).toEqual([]);
});

test('a cron expression is checked as a Temporal Schedule reads it', () => {
  for (const good of [
    '0 3 * * *',
    '*/15 * * * MON-FRI',
    '0 0 1 jan,jul *',
    '30 2 * * 0,7',
    '@daily',
    'CRON_TZ=Europe/Berlin 0 3 * * *',
    '0 0 3 * * * 2030',
    '0 3 * * * # nightly',
  ]) {
    expect([good, cronProblem(good)]).toEqual([good, undefined]);
  }
  expect(cronProblem('61 * * * *')).toBe('minute "61": 61 is outside 0-59');
  expect(cronProblem('0 3 * 13 *')).toBe('month "13": 13 is outside 1-12');
  expect(cronProblem('0 3 * * *,')).toBe('day-of-week "*,": "" is not a value, range or step');
  expect(cronProblem('0 3 * *')).toMatch(/^has 4 fields/);
  expect(cronProblem('TZ=Nowhere/Land 0 3 * * *')).toBe('unknown time zone Nowhere/Land');
});

test('an input over the size limit is refused whole, saying its size, before its fields are read', () => {
  const result = safeParseInput(DrainNodeInput, { node: 'Not A Node', owner: 'x'.repeat(MAX_INPUT_BYTES) });
  expect(result.success).toBe(false);
  expect(!result.success && result.error.issues.map((i) => [i.path, i.message])).toEqual([
    [[], expect.stringMatching(/^too large: 257 KiB as JSON; the limit is 256 KiB/)],
  ]);
});
