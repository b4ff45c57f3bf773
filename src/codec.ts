import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { ValueError } from '@temporalio/common';
// CommonJS package: Node's ESM loader offers only its default export.
import proto from '@temporalio/proto';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const { Payload: PayloadProto } = proto.temporal.api.common.v1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const utf8 = (text: string) => new TextEncoder().encode(text);
const text = (bytes: Uint8Array | null | undefined) => (bytes ? new TextDecoder().decode(bytes) : undefined);

/**
 * Encrypts every payload (workflow inputs and results, activity arguments and results, signals, queries)
 * with AES-256-GCM before it leaves the worker or client, so Temporal's history holds only ciphertext.
 * The key id travels in the payload's metadata: keys can be rotated by adding the new one as current and
 * keeping the old ones for decoding.
 */
export class AesGcmCodec implements PayloadCodec {
  constructor(
    private readonly keys: ReadonlyMap<string, Buffer>,
    private readonly currentKeyId: string,
  ) {
    for (const [id, key] of keys) if (key.length !== 32) throw new Error(`codec key ${id} must be 32 bytes, is ${key.length}`);
    if (!keys.has(currentKeyId)) throw new Error(`no codec key with id ${currentKeyId}`);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.keys.get(this.currentKeyId)!;
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const plain = PayloadProto.encode(payload).finish();
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return { metadata: { encoding: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(this.currentKeyId) }, data };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (text(payload.metadata?.encoding) !== ENCRYPTED_ENCODING) return payload;
      const keyId = text(payload.metadata?.[KEY_ID_METADATA]) ?? '';
      const key = this.keys.get(keyId);
      if (!key) throw new ValueError(`payload encrypted with unknown key id "${keyId}"`);
      const data = Buffer.from(payload.data ?? new Uint8Array());
      if (data.length < IV_BYTES + TAG_BYTES) throw new ValueError('encrypted payload too short');
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      return PayloadProto.decode(plain);
    });
  }
}

export interface CodecSettings {
  CODEC_KEY?: string;
  CODEC_KEY_ID: string;
  CODEC_PREVIOUS_KEYS?: string;
}

/** The codec the worker and the CLI share, from CODEC_KEY (base64, 32 bytes); none when unset. */
export function codecFromEnv(env: CodecSettings): AesGcmCodec | undefined {
  if (!env.CODEC_KEY) return undefined;
  const keys = new Map<string, Buffer>([[env.CODEC_KEY_ID, Buffer.from(env.CODEC_KEY, 'base64')]]);
  // Older keys stay readable after a key rotation: "id=base64key,id2=base64key".
  for (const entry of (env.CODEC_PREVIOUS_KEYS ?? '').split(',').filter(Boolean)) {
    const [id, key] = entry.split('=', 2) as [string, string | undefined];
    keys.set(id, Buffer.from(key ?? '', 'base64'));
  }
  return new AesGcmCodec(keys, env.CODEC_KEY_ID);
}

export function dataConverterFromEnv(env: CodecSettings): DataConverter | undefined {
  const codec = codecFromEnv(env);
  return codec ? { payloadCodecs: [codec] } : undefined;
}
