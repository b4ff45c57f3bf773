import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { InfraPaths } from './infra/paths.js';
import { freePort, killLeftovers, launch, waitReady } from './process.js';

export interface VictoriaMetricsServer {
  /** Base URL, e.g. http://127.0.0.1:8428 */
  url: string;
  stop(): Promise<void>;
}

/**
 * A real single-node VictoriaMetrics (Debian 12's 1.79.5) on loopback, data under `dir`. Queries see
 * samples at once (`-search.latencyOffset=0s`; readers call /internal/force_flush first), not after 30 s.
 * `scrape` names Prometheus endpoints it scrapes itself every 10 s (its built-in scraper, as the cluster's
 * vmagent does), job label `cluster-ops-worker`.
 */
export async function startVictoriaMetrics(dir: string, infra: InfraPaths, options: { port?: number; scrape?: string[] } = {}): Promise<VictoriaMetricsServer> {
  mkdirSync(dir, { recursive: true });
  killLeftovers(dir);
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const scrapeConfig = join(dir, 'scrape.yml');
  if (options.scrape) {
    const config = { scrape_configs: [{ job_name: 'cluster-ops-worker', scrape_interval: '10s', static_configs: [{ targets: options.scrape }] }] };
    writeFileSync(scrapeConfig, stringify(config));
  }
  const server = launch(dir, 'victoria-metrics', infra.victoriaMetrics, [
    `-storageDataPath=${join(dir, 'data')}`,
    `-httpListenAddr=127.0.0.1:${port}`,
    '-search.latencyOffset=0s',
    '-loggerLevel=WARN',
    ...(options.scrape ? [`-promscrape.config=${scrapeConfig}`] : []),
  ]);
  await waitReady(server, async () => (await fetch(`${url}/health`)).ok);
  return { url, stop: () => server.stop() };
}
