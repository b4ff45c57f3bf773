import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { InfraPaths } from './infra/paths.js';
import { freePort, killLeftovers, launch, waitReady } from './process.js';
import { repoRoot } from './repo-root.js';

/** The realm the cluster's seven OIDC clients live in (lab/keycloak/wcloud-realm.json). */
export const LAB_REALM = 'wcloud';
export const LAB_CLIENTS = ['argocd', 'argo-workflows', 'grafana', 'temporal', 'kafbat', 'headlamp', 'rabbitmq'] as const;
/** The realm file gives every lab client this initial secret; rotation replaces it. */
export const initialLabSecret = (clientId: string) => `lab-${clientId}-initial-secret`;

export interface LabKeycloak {
  url: string;
  admin: { username: string; password: string };
  logFile: string;
  /** Resolves once the wcloud realm answers; the first start of a fresh copy takes a minute or more. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 6 * 60_000;

/**
 * A real Keycloak (dev mode, H2 in its folder) with the `client-secret-rotation` preview feature and the
 * wcloud realm imported. Keycloak writes into its own folder, so it runs from a fresh copy of the pinned
 * distribution under `dir`. Returns as soon as the process is launched; await `ready` before using it.
 */
export async function startKeycloak(dir: string, infra: InfraPaths, options: { port?: number } = {}): Promise<LabKeycloak> {
  mkdirSync(dir, { recursive: true });
  killLeftovers(dir);
  const home = join(dir, 'keycloak');
  rmSync(home, { recursive: true, force: true });
  await promisify(execFile)('cp', ['-a', infra.keycloak, home]);
  mkdirSync(join(home, 'data/import'), { recursive: true });
  copyFileSync(join(repoRoot(), 'lab/keycloak/wcloud-realm.json'), join(home, 'data/import/wcloud-realm.json'));

  const port = options.port ?? (await freePort());
  const managementPort = await freePort();
  const admin = { username: 'admin', password: 'lab-admin' };
  const server = launch(
    dir,
    'keycloak',
    join(home, 'bin/kc.sh'),
    [
      'start-dev',
      '--http-host=127.0.0.1',
      `--http-port=${port}`,
      `--http-management-port=${managementPort}`,
      '--features=client-secret-rotation',
      '--import-realm',
      '--log-level=warn',
    ],
    {
      JAVA_HOME: infra.keycloakJavaHome,
      KC_BOOTSTRAP_ADMIN_USERNAME: admin.username,
      KC_BOOTSTRAP_ADMIN_PASSWORD: admin.password,
      JAVA_OPTS_KC_HEAP: '-Xms64m -Xmx512m',
      // C1 only: a third less CPU to start on a small machine; Keycloak's own work here is light.
      JAVA_OPTS_APPEND: '-XX:TieredStopAtLevel=1',
    },
  );
  const url = `http://127.0.0.1:${port}`;
  const ready = waitReady(server, async () => (await fetch(`${url}/realms/${LAB_REALM}/.well-known/openid-configuration`)).ok, READY_TIMEOUT_MS);
  return { url, admin, logFile: server.logFile, ready, stop: () => server.stop() };
}

/** Whether the pinned distribution and its Java are here (install.sh fetches both when it can). */
export function keycloakAvailable(infra: InfraPaths): boolean {
  return existsSync(join(infra.keycloak, 'bin/kc.sh')) && existsSync(join(infra.keycloakJavaHome, 'bin/java'));
}
