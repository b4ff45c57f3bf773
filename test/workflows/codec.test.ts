import { randomBytes } from 'node:crypto';
import { Client, WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { AesGcmCodec, ENCRYPTED_ENCODING } from '../../src/codec.js';
import { startCodecServer } from '../../src/codec-server.js';
import { kubeClients, loadKubeConfig } from '../../src/activities/kube/clients.js';
import type { Progress } from '../../src/schemas/progress.js';
import { createWorker } from '../../src/worker.js';
import { testEnv } from '../helpers/env.js';
import { uniqueName } from '../helpers/kube.js';
import { timeSkippingEnvironment } from '../helpers/temporal.js';

// A worker and a client sharing the AES-GCM codec: history holds ciphertext only, and the codec server
// gives the Temporal UI (CORS, bearer token) the plaintext back.
let env: TestWorkflowEnvironment;
const codec = new AesGcmCodec(new Map([['test', randomBytes(32)]]), 'test');
beforeAll(async () => {
  env = await timeSkippingEnvironment();
});
afterAll(() => env?.teardown());

test('payloads in history are encrypted; the codec server decodes them for an authorised UI only', async () => {
  const dataConverter = { payloadCodecs: [codec] };
  const client = new Client({ connection: env.connection, dataConverter });
  const taskQueue = uniqueName('codec');
  // No Keycloak on this worker: the run fails at its first activity, after the input is in history.
  const worker = await createWorker({
    connection: env.nativeConnection,
    namespace: 'default',
    taskQueue,
    deps: { kube: kubeClients(loadKubeConfig(testEnv('kubeconfig'))) },
    workflowBundlePath: testEnv('bundle'),
    dataConverter,
  });
  const input = {
    client: {
      clientId: 'grafana',
      infisical: { projectId: 'willingham-k8s', secretPath: '/keycloak', secretName: 'GRAFANA_OIDC_CLIENT_SECRET' },
      externalSecret: { namespace: 'vmks', name: 'grafana-oidc' },
    },
  };
  const { history, progress, error } = await worker.runUntil(async () => {
    const handle = await client.workflow.start('rotateOidcClient', { taskQueue, workflowId: uniqueName('codec'), args: [input] });
    const error = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    return { history: await handle.fetchHistory(), progress: await handle.query<Progress>('progress'), error };
  });
  expect(error).toBeInstanceOf(WorkflowFailedError);
  expect(progress.operation).toBe('rotate-oidc-client'); // the query result came back through the codec
  const started = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
  expect(Buffer.from(started.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
  expect(Buffer.from(started.data!).toString('latin1')).not.toContain('GRAFANA_OIDC_CLIENT_SECRET');

  const server = await startCodecServer({ codec, address: '127.0.0.1:0', corsOrigins: ['http://ui.local'], token: 'a-long-enough-token' });
  try {
    const body = JSON.stringify({
      payloads: [
        {
          metadata: {
            encoding: Buffer.from(started.metadata!.encoding!).toString('base64'),
            'encryption-key-id': Buffer.from(started.metadata!['encryption-key-id']!).toString('base64'),
          },
          data: Buffer.from(started.data!).toString('base64'),
        },
      ],
    });
    const post = (path: string, headers: Record<string, string>, payload = body) =>
      fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'http://ui.local', ...headers }, body: payload });
    expect((await post('/decode', {})).status).toBe(401);
    expect((await post('/decode', { authorization: 'Bearer wrong-token-of-length' })).status).toBe(401);
    const decoded = await post('/decode', { authorization: 'Bearer a-long-enough-token' });
    expect(decoded.status).toBe(200);
    expect(decoded.headers.get('access-control-allow-origin')).toBe('http://ui.local');
    const [payload] = ((await decoded.json()) as { payloads: { data: string }[] }).payloads;
    expect(JSON.parse(Buffer.from(payload!.data, 'base64').toString())).toEqual(input);
    // Round trip through /encode.
    const encoded = await post('/encode', { authorization: 'Bearer a-long-enough-token' }, JSON.stringify({ payloads: [payload] }));
    const [again] = ((await encoded.json()) as { payloads: { metadata: Record<string, string> }[] }).payloads;
    expect(Buffer.from(again!.metadata.encoding!, 'base64').toString()).toBe(ENCRYPTED_ENCODING);
    const preflight = await fetch(`${server.url}/decode`, { method: 'OPTIONS', headers: { origin: 'http://ui.local' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
    const stranger = await fetch(`${server.url}/decode`, { method: 'OPTIONS', headers: { origin: 'http://evil.local' } });
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull();
  } finally {
    await server.close();
  }
});
