import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { InfraPaths } from './infra/paths.js';
import { freePort, killLeftovers, launch, waitReady } from './process.js';

/** Search attributes our workflows set, registered on the dev server so the UI can filter by them. */
export const SEARCH_ATTRIBUTES = { ClusterOpsOperation: 'Keyword', ClusterOpsNodes: 'KeywordList' };

export interface TemporalDevServer {
  address: string;
  uiUrl?: string;
  stop(): Promise<void>;
}

/** The Temporal CLI's dev server (real Temporal server, SQLite persistence), optionally with its Web UI. */
export async function startTemporalDevServer(
  dir: string,
  infra: InfraPaths,
  options: { port?: number; uiPort?: number; headless?: boolean } = {},
): Promise<TemporalDevServer> {
  mkdirSync(dir, { recursive: true });
  killLeftovers(dir);
  const port = options.port ?? (await freePort());
  const uiPort = options.uiPort ?? (await freePort());
  const address = `127.0.0.1:${port}`;
  const args = [
    'server',
    'start-dev',
    '--db-filename',
    join(dir, 'temporal.db'),
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--log-level',
    'warn',
    ...Object.entries(SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
    // The UI's news feed would come from temporal.io: the lab and the tests reach nothing outside the machine.
    ...(options.headless ? ['--headless'] : ['--ui-port', String(uiPort), '--ui-disable-news-fetch']),
  ];
  const server = launch(dir, 'temporal', infra.temporal, args);
  await waitReady(server, async () => {
    await promisify(execFile)(infra.temporal, ['operator', 'cluster', 'health', '--address', address], { timeout: 5_000 });
    return true;
  });
  return { address, uiUrl: options.headless ? undefined : `http://127.0.0.1:${uiPort}`, stop: () => server.stop() };
}
