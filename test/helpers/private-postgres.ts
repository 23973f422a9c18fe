import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports';

/** A PostgreSQL server of one test's own, which it may stop and start (never the shared one). */
export interface PrivatePostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  url: string;
  port: number;
  /** Stops the server (fast shutdown: connections are cut). */
  stop(): void;
  start(): void;
  /** Stops it and deletes its data directory. Safe to call twice. */
  destroy(): void;
}

const BIN = (() => {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  return versions.length ? path.join(root, versions[0], 'bin') : null;
})();

/** Runs a PostgreSQL tool as the `postgres` user when this process is root (the server refuses root). */
function asPostgres(tool: string, args: string[]): void {
  const cmd = path.join(BIN!, tool);
  const root = process.getuid?.() === 0;
  const r = root
    ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' })
    : spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
}

/** Whether this machine can run a private PostgreSQL (the server binaries are installed). */
export const canRunPrivatePostgres = (): boolean => BIN !== null;

/**
 * Creates and starts a PostgreSQL server of the test's own on a free port (trust auth, data in a
 * temporary directory, fsync off: it is thrown away), from this machine's PostgreSQL binaries.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  if (!BIN) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql');
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-private-pg-'));
  const data = path.join(dir, 'data');
  if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  asPostgres('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-instructions']);
  fs.appendFileSync(
    path.join(data, 'postgresql.conf'),
    `\nport = ${port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '${dir}'\nfsync = off\nmax_connections = 60\n`,
  );
  const log = path.join(dir, 'server.log');
  const start = () => asPostgres('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '60', 'start']);
  const stop = () => asPostgres('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']);
  start();
  let destroyed = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start,
    stop,
    destroy() {
      if (destroyed) return;
      destroyed = true;
      try {
        stop();
      } catch {
        // Already stopped.
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
