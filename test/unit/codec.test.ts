import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { AesGcmCodec, codecFromEnv, ENCRYPTED_ENCODING, KEY_ID_METADATA } from '../../src/codec.js';
import { ConfigError, loadEnv, WorkerEnv } from '../../src/config.js';

const key = randomBytes(32);
const codec = new AesGcmCodec(new Map([['k1', key]]), 'k1');
const secretish = { clientId: 'grafana', note: 'lab-grafana-initial-secret' };
const text = (bytes?: Uint8Array | null) => Buffer.from(bytes ?? new Uint8Array()).toString('utf8');

test('encrypts payloads with the key id in metadata, and decodes them back', async () => {
  const plain = defaultPayloadConverter.toPayload(secretish);
  const [encrypted] = await codec.encode([plain]);
  expect(text(encrypted!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
  expect(text(encrypted!.metadata![KEY_ID_METADATA])).toBe('k1');
  expect(text(encrypted!.data)).not.toContain('grafana');
  const [decoded] = await codec.decode([encrypted!]);
  expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual(secretish);
  // Same plaintext, fresh IV: different ciphertext.
  const [again] = await codec.encode([plain]);
  expect(Buffer.from(again!.data!).equals(Buffer.from(encrypted!.data!))).toBe(false);
});

test('tampered ciphertext, an unknown key id and a wrong key are refused; plain payloads pass through', async () => {
  const [encrypted] = await codec.encode([defaultPayloadConverter.toPayload(secretish)]);
  const tampered = { ...encrypted!, data: Buffer.from(encrypted!.data!).map((b, i) => (i === 20 ? b ^ 1 : b)) };
  await expect(codec.decode([tampered])).rejects.toThrow();
  const otherId = new AesGcmCodec(new Map([['k2', key]]), 'k2');
  await expect(otherId.decode([encrypted!])).rejects.toThrow(/unknown key id "k1"/);
  const otherKey = new AesGcmCodec(new Map([['k1', randomBytes(32)]]), 'k1');
  await expect(otherKey.decode([encrypted!])).rejects.toThrow();
  const plain = defaultPayloadConverter.toPayload('hello');
  expect(await codec.decode([plain])).toEqual([plain]);
});

test('key rotation: the new current key encodes, a previous key still decodes', async () => {
  const old = randomBytes(32).toString('base64');
  const before = codecFromEnv({ CODEC_KEY: old, CODEC_KEY_ID: 'v1' })!;
  const [written] = await before.encode([defaultPayloadConverter.toPayload(secretish)]);
  const after = codecFromEnv({ CODEC_KEY: randomBytes(32).toString('base64'), CODEC_KEY_ID: 'v2', CODEC_PREVIOUS_KEYS: `v1=${old}` })!;
  expect(defaultPayloadConverter.fromPayload((await after.decode([written!]))[0]!)).toEqual(secretish);
  expect(text((await after.encode([written!]))[0]!.metadata![KEY_ID_METADATA])).toBe('v2');
  expect(codecFromEnv({ CODEC_KEY_ID: 'default' })).toBeUndefined();
});

test('configuration: a short key and a codec server without a key are reported', () => {
  let message = '';
  try {
    loadEnv(WorkerEnv, { KUBECONFIG: '/k', CODEC_KEY: Buffer.from('short').toString('base64'), CODEC_SERVER_ADDRESS: '0.0.0.0:8888' });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    message = (error as Error).message;
  }
  expect(message).toContain('env.CODEC_KEY: must be 32 bytes');
  const env = loadEnv(WorkerEnv, {
    KUBECONFIG: '/k',
    CODEC_KEY: key.toString('base64'),
    CODEC_SERVER_ADDRESS: '127.0.0.1:0',
    CODEC_CORS_ORIGINS: 'http://a, http://b',
  });
  expect(env.CODEC_CORS_ORIGINS).toEqual(['http://a', 'http://b']);
});
