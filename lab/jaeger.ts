import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { InfraPaths } from './infra/paths.js';
import { freePort, killLeftovers, launch, waitReady } from './process.js';

export interface JaegerServer {
  /** Where services send spans: OTLP over gRPC, for OTEL_EXPORTER_OTLP_ENDPOINT, e.g. http://127.0.0.1:4317 */
  otlpGrpcUrl: string;
  /** The UI and its HTTP query API (/api/traces, /api/services), e.g. http://127.0.0.1:16686 */
  queryUrl: string;
  stop(): Promise<void>;
}

/**
 * A real Jaeger v2 (v1.75.0: an OpenTelemetry collector with Jaeger's storage and query built in) on loopback,
 * keeping traces in memory, as the cluster's Jaeger does behind its OpenTelemetry collector. Every port is
 * explicit, free ones unless given: the upstream all-in-one defaults (4317, 16686, 8888...) may be taken by
 * another lab or test run.
 */
export async function startJaeger(dir: string, infra: InfraPaths, options: { queryPort?: number; otlpGrpcPort?: number } = {}): Promise<JaegerServer> {
  mkdirSync(dir, { recursive: true });
  killLeftovers(dir);
  const [otlpGrpc, otlpHttp, queryHttp, queryGrpc, health] = await Promise.all([
    options.otlpGrpcPort ?? freePort(),
    freePort(),
    options.queryPort ?? freePort(),
    freePort(),
    freePort(),
  ]);
  const loopback = (port: number) => ({ endpoint: `127.0.0.1:${port}` });
  const config = {
    service: {
      extensions: ['jaeger_storage', 'jaeger_query', 'healthcheckv2'],
      // No batch processor: a span is stored when its export is answered, so a query right after finds it.
      pipelines: { traces: { receivers: ['otlp'], exporters: ['jaeger_storage_exporter'] } },
      // No metrics endpoint of its own (it would take port 8888).
      telemetry: { metrics: { level: 'none' }, logs: { level: 'warn' } },
    },
    extensions: {
      jaeger_storage: { backends: { traces: { memory: { max_traces: 100_000 } } } },
      jaeger_query: { storage: { traces: 'traces' }, http: loopback(queryHttp), grpc: loopback(queryGrpc) },
      healthcheckv2: { use_v2: true, http: loopback(health) },
    },
    receivers: { otlp: { protocols: { grpc: loopback(otlpGrpc), http: loopback(otlpHttp) } } },
    exporters: { jaeger_storage_exporter: { trace_storage: 'traces' } },
  };
  const configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, stringify(config));
  const server = launch(dir, 'jaeger', infra.jaeger, ['--config', configFile]);
  const queryUrl = `http://127.0.0.1:${queryHttp}`;
  // Healthy once every pipeline and extension started; the query API then answers too.
  await waitReady(server, async () => (await fetch(`http://127.0.0.1:${health}/status`)).ok && (await fetch(`${queryUrl}/api/services`)).ok);
  return { otlpGrpcUrl: `http://127.0.0.1:${otlpGrpc}`, queryUrl, stop: () => server.stop() };
}
