import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { appendFileSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/** A server process started by the lab or the tests, in its own process group, logging to a file. */
export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  logFile: string;
  stop(): Promise<void>;
}

const PIDS_FILE = 'pids';

export function launch(dir: string, name: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): ManagedProcess {
  const logFile = join(dir, `${name}.log`);
  const log = openSync(logFile, 'a');
  const child = spawn(command, args, {
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, ...env },
  });
  appendFileSync(join(dir, PIDS_FILE), `${child.pid}\n`);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    name,
    child,
    logFile,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      signalGroup(child.pid!, 'SIGTERM');
      const stopped = await Promise.race([exited.then(() => true), delay(10_000, undefined, { ref: false }).then(() => false)]);
      if (!stopped) signalGroup(child.pid!, 'SIGKILL');
      await exited;
    },
  };
}

function signalGroup(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** Kills what an earlier run in this directory left behind (a SIGKILLed test run, a crashed lab). */
export function killLeftovers(dir: string) {
  let pids: string;
  try {
    pids = readFileSync(join(dir, PIDS_FILE), 'utf8');
  } catch {
    return;
  }
  for (const pid of pids.split('\n').filter(Boolean)) signalGroup(Number(pid), 'SIGKILL');
  writeFileSync(join(dir, PIDS_FILE), '');
}

export function logTail(proc: ManagedProcess, lines = 20): string {
  try {
    return readFileSync(proc.logFile, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Polls a readiness probe while the process lives; startup is the one place a poll is right. */
export async function waitReady(proc: ManagedProcess, probe: () => Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    // A process killed by a signal (stopped while still starting, as Keycloak at the end of a short run) has
    // no exit code: without the signal check, the wait polled on to its deadline and kept jest alive.
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      throw new Error(`${proc.name} exited with ${proc.child.exitCode ?? proc.child.signalCode}:\n${logTail(proc)}`);
    }
    if (await probe().catch(() => false)) return;
    await delay(200);
  }
  throw new Error(`${proc.name} not ready after ${timeoutMs / 1000}s:\n${logTail(proc)}`);
}

/** Ports this process has handed out: a server that has not bound its port yet must not get it twice. */
const handedOut = new Set<number>();
const LOWEST_PORT = 10_000;

/** The first port of the kernel's range for outgoing connections (Linux's default where it cannot be read). */
function ephemeralPortsStart(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    return 32_768;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.on('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

/**
 * A free TCP port below the range the kernel hands to outgoing connections: a server that binds late
 * (Keycloak takes most of a minute) would otherwise lose its port to one of the many client connections
 * a test run opens meanwhile.
 */
export async function freePort(): Promise<number> {
  const span = ephemeralPortsStart() - LOWEST_PORT;
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = LOWEST_PORT + randomInt(span);
    if (handedOut.has(port) || !(await canListen(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port found between ${LOWEST_PORT} and ${LOWEST_PORT + span}`);
}

/** The HTTP status of a GET over TLS with our own CA (or none, for self-signed health endpoints). */
export function httpsStatus(url: string, options: { ca?: string; token?: string } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpsGet(
      url,
      {
        ca: options.ca ? readFileSync(options.ca) : undefined,
        rejectUnauthorized: options.ca !== undefined,
        headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
        timeout: 2_000,
      },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    request.on('error', reject);
    request.on('timeout', () => request.destroy(new Error('timeout')));
  });
}
