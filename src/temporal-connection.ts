import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import type { TemporalEnv } from './config.js';

/** Connection options understood by both the client's Connection and the worker's NativeConnection. */
export function temporalConnectionOptions(env: TemporalEnv): { address: string; tls?: TLSConfig | boolean; apiKey?: string } {
  const tls: TLSConfig = {};
  if (env.TEMPORAL_TLS_CERT && env.TEMPORAL_TLS_KEY) {
    tls.clientCertPair = { crt: readFileSync(env.TEMPORAL_TLS_CERT), key: readFileSync(env.TEMPORAL_TLS_KEY) };
  }
  if (env.TEMPORAL_TLS_CA) tls.serverRootCACertificate = readFileSync(env.TEMPORAL_TLS_CA);
  const wantsTls = Object.keys(tls).length > 0 || env.TEMPORAL_API_KEY !== undefined;
  return {
    address: env.TEMPORAL_ADDRESS,
    ...(wantsTls ? { tls } : {}),
    ...(env.TEMPORAL_API_KEY ? { apiKey: env.TEMPORAL_API_KEY } : {}),
  };
}
