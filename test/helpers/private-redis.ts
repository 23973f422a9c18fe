import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports';

/** A Redis server of one test's own, which it may stop and start (never the shared one). */
export interface PrivateRedis {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Stops the server (SIGTERM, no save: it has no persistence) and waits until it has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port; resolves once it answers PING. */
  start(): Promise<void>;
  /** Stops it and deletes its directory. Safe to call twice. */
  destroy(): Promise<void>;
}

const BIN = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((f) => fs.existsSync(f)) ?? null;

/** Whether this machine can run a private Redis (the server binary is installed). */
export const canRunPrivateRedis = (): boolean => BIN !== null;

/** Resolves once something on `port` answers a PING with PONG; rejects after `timeoutMs`. */
async function waitForPong(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      let reply = '';
      socket.once('connect', () => socket.write('PING\r\n'));
      socket.on('data', (d) => {
        reply += d.toString();
        if (reply.includes('\r\n')) {
          socket.destroy();
          resolve(reply.startsWith('+PONG'));
        }
      });
      socket.once('error', () => resolve(false));
      socket.setTimeout(1000, () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`private Redis on port ${port} did not answer PING within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts a Redis server of the test's own on a free port of 127.0.0.1 from this machine's
 * `redis-server` (no RDB, no AOF: nothing survives a stop, like a restart of a cache), its log
 * in a temporary directory.
 */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  if (!BIN) throw new Error('no redis-server binary (/usr/bin/redis-server)');
  // Probe that the binary runs at all, for a clear message rather than a PING timeout.
  const probe = spawnSync(BIN, ['--version'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`redis-server --version failed: ${probe.stderr || probe.stdout}`);
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-private-redis-'));
  let child: ChildProcess | null = null;
  const start = async () => {
    if (child) return;
    const log = fs.openSync(path.join(dir, 'server.log'), 'a');
    child = spawn(
      BIN,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'],
      { stdio: ['ignore', log, log] },
    );
    fs.closeSync(log);
    const exited = new Promise<never>((_, reject) =>
      child!.once('exit', (code) => reject(new Error(`private redis-server exited with ${code} before it answered`))),
    );
    exited.catch(() => undefined);
    await Promise.race([waitForPong(port), exited]);
  };
  const stop = async () => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
      setTimeout(() => c.kill('SIGKILL'), 5000).unref();
    });
  };
  await start();
  let destroyed = false;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop,
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
