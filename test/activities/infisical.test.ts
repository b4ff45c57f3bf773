import { InfisicalSDK } from '@infisical/sdk';
import { startFakeInfisical } from '../../lab/fakes/infisical.js';
import type { FakeInfisical } from '../../lab/fakes/infisical.js';
import { createInfisicalActivities, InfisicalSecrets } from '../../src/activities/infisical/secrets.js';
import { fingerprint } from '../../src/activities/fingerprint.js';
import { activityRunner } from '../helpers/temporal.js';
import { FailureType } from '../../src/failures.js';

// The fake Infisical API driven by the official SDK (as the activities and the ESO simulator use it).
let fake: FakeInfisical;
beforeAll(async () => {
  fake = await startFakeInfisical();
});
afterAll(() => fake?.close());

const where = { projectId: 'willingham-k8s', environment: 'prod', secretPath: '/keycloak' };
const login = () => new InfisicalSDK({ siteUrl: fake.url }).auth().universalAuth.login(fake.identity);

test('universal-auth login: a wrong secret is refused with 401; secrets calls need the token', async () => {
  await expect(new InfisicalSDK({ siteUrl: fake.url }).auth().universalAuth.login({ ...fake.identity, clientSecret: 'wrong' })).rejects.toThrow(
    /StatusCode=401.*Invalid credentials/,
  );
  await expect(new InfisicalSDK({ siteUrl: fake.url }).secrets().getSecret({ ...where, secretName: 'X' })).rejects.toThrow(/StatusCode=401/);
});

test('create, read, update with versions; reading an older version; 404 for a missing secret', async () => {
  const sdk = await login();
  await expect(sdk.secrets().getSecret({ ...where, secretName: 'GRAFANA' })).rejects.toThrow(/StatusCode=404/);
  const created = await sdk.secrets().createSecret('GRAFANA', { ...where, secretValue: 'one' });
  expect(created.secret).toMatchObject({ secretKey: 'GRAFANA', secretValue: 'one', version: 1, secretPath: '/keycloak' });
  await expect(sdk.secrets().createSecret('GRAFANA', { ...where, secretValue: 'again' })).rejects.toThrow(/StatusCode=400.*already exist/);
  const updated = await sdk.secrets().updateSecret('GRAFANA', { ...where, secretValue: 'two' });
  expect(updated.secret).toMatchObject({ secretValue: 'two', version: 2 });
  expect(await sdk.secrets().getSecret({ ...where, secretName: 'GRAFANA' })).toMatchObject({ secretValue: 'two', version: 2 });
  expect(await sdk.secrets().getSecret({ ...where, secretName: 'GRAFANA', version: 1 })).toMatchObject({ secretValue: 'one', version: 1 });
  await expect(sdk.secrets().updateSecret('NOPE', { ...where, secretValue: 'x' })).rejects.toThrow(/StatusCode=404/);
  // Same key in another folder is another secret.
  await expect(sdk.secrets().getSecret({ ...where, secretPath: '/other', secretName: 'GRAFANA' })).rejects.toThrow(/StatusCode=404/);
});

test('a path under an approval policy answers with an approval request and stores nothing', async () => {
  const gated = { ...where, secretPath: '/gated/oidc' };
  fake.seed({ ...gated, secretName: 'ARGOCD' }, 'before');
  fake.addApprovalPolicy({ projectId: where.projectId, environment: 'prod', secretPath: '/gated' });
  const reply = (await (await login()).secrets().updateSecret('ARGOCD', { ...gated, secretValue: 'after' })) as unknown as {
    approval?: { status: string };
    secret?: unknown;
  };
  expect(reply.secret).toBeUndefined();
  expect(reply.approval?.status).toBe('open');
  expect(fake.history({ ...gated, secretName: 'ARGOCD' })).toEqual(['before']);
  await expect(new InfisicalSecrets({ siteUrl: fake.url, ...fake.identity }).update({ ...gated, secretName: 'ARGOCD' }, 'after', '')).rejects.toMatchObject({
    type: FailureType.InfisicalApprovalRequired,
    nonRetryable: true,
  });
});

test('readInfisicalSecret returns a fingerprint and version, never the value; a wrong identity fails for good', async () => {
  fake.seed({ ...where, secretName: 'KAFBAT' }, 'kafbat-secret');
  const run = activityRunner();
  const { readInfisicalSecret } = createInfisicalActivities({ siteUrl: fake.url, ...fake.identity });
  expect(await run(readInfisicalSecret, { ...where, secretName: 'KAFBAT' })).toEqual({ fingerprint: fingerprint('kafbat-secret'), version: 1 });
  const wrong = createInfisicalActivities({ siteUrl: fake.url, clientId: fake.identity.clientId, clientSecret: 'wrong' });
  await expect(run(wrong.readInfisicalSecret, { ...where, secretName: 'KAFBAT' })).rejects.toMatchObject({
    type: FailureType.InfisicalUnauthorized,
    nonRetryable: true,
  });
  await expect(run(readInfisicalSecret, { ...where, secretName: 'MISSING' })).rejects.toMatchObject({ type: FailureType.InfisicalSecretMissing });
});
