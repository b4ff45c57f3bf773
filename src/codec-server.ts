import { timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Payload, PayloadCodec } from '@temporalio/common';

/** Payloads as the Temporal UI and CLI send them to a codec server: proto3 JSON, bytes in base64. */
interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** host:port to listen on. */
  address: string;
  /** Origins allowed to call from a browser (the Temporal UI's URL); empty: no CORS headers. */
  corsOrigins: string[];
  /** When set, POSTs need `Authorization: Bearer <token>` (the UI forwards the user's token). */
  token?: string;
}

/**
 * The codec server endpoint (POST /encode, POST /decode) that lets the Temporal UI show decrypted payloads
 * to the people allowed to see them. Whoever can call /decode reads every payload: keep it behind the
 * bearer token and the cluster network.
 */
export async function startCodecServer(options: CodecServerOptions): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const allowed = (token: string | undefined) => {
    if (!options.token) return true;
    const given = Buffer.from(token ?? '');
    const wanted = Buffer.from(`Bearer ${options.token}`);
    return given.length === wanted.length && timingSafeEqual(given, wanted);
  };
  const cors = (req: IncomingMessage, res: ServerResponse) => {
    const origin = req.headers.origin;
    if (origin && options.corsOrigins.includes(origin)) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-allow-methods', 'POST, OPTIONS');
      res.setHeader('access-control-allow-headers', 'content-type, authorization, x-namespace');
      res.setHeader('access-control-allow-credentials', 'true');
      res.setHeader('vary', 'origin');
    }
  };
  const reply = (res: ServerResponse, status: number, body?: unknown) => {
    res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  };

  const server = createServer((req, res) => {
    cors(req, res);
    if (req.method === 'OPTIONS') return reply(res, 204);
    const action = req.url?.split('?')[0];
    if (req.method !== 'POST' || (action !== '/encode' && action !== '/decode')) return reply(res, 404, { message: 'POST /encode or /decode' });
    if (!allowed(req.headers.authorization)) return reply(res, 401, { message: 'unauthorized' });
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        let payloads: Payload[];
        try {
          payloads = ((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { payloads?: JsonPayload[] }).payloads ?? []).map(fromJson);
        } catch {
          return reply(res, 400, { message: 'body must be {"payloads": [...]}' });
        }
        try {
          const result = action === '/encode' ? await options.codec.encode(payloads) : await options.codec.decode(payloads);
          reply(res, 200, { payloads: result.map(toJson) });
        } catch (error) {
          reply(res, 400, { message: error instanceof Error ? error.message : 'codec error' });
        }
      })();
    });
  });
  const [host, port] = [options.address.slice(0, options.address.lastIndexOf(':')), Number(options.address.slice(options.address.lastIndexOf(':') + 1))];
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host || '0.0.0.0', resolve);
  });
  const bound = server.address() as { port: number; address: string };
  return {
    url: `http://${bound.address.includes(':') ? `[${bound.address}]` : bound.address}:${bound.port}`,
    server,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
