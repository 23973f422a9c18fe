import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { createApp, type App } from '../../src/app';
import type { Logger } from '../../src/logger';
import { loadConfig, type Config } from '../../src/config';
import { builtEntry } from './build';
import { REDIS_URL } from './db';
import { TEST_SOURCE_ACCESS, TEST_SOURCE_ENV } from './source-access';

/**
 * Starts a whole gateway (HTTP + WebSocket on a free port, workers on unless told otherwise) for a
 * test, on the given database and Redis prefix. Environment variables are ignored: tests say what
 * they run on.
 */
export async function startTestApp(overrides: Partial<Config> & { databaseUrl?: string }, opts: { logger?: Logger } = {}): Promise<App> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-test-'));
  const config = loadConfig(
    {},
    {
      port: 0,
      host: '127.0.0.1',
      dataDir,
      redisUrl: REDIS_URL,
      seedDemo: false,
      logLevel: (process.env.TEST_LOG_LEVEL as Config['logLevel']) ?? 'silent',
      schedulerIntervalMs: 100,
      retryBaseDelayMs: 200,
      ...TEST_SOURCE_ACCESS,
      ...overrides,
    },
  );
  return createApp(config, opts);
}

/** `ws://` URL of an app's GraphQL endpoint. */
export const wsUrl = (app: App) => `${app.url.replace(/^http/, 'ws')}/graphql`;
export const httpUrl = (app: App) => `${app.url}/graphql`;

/** A gateway in a process of its own (the built `dist/src/main.js`), as a second replica would run. */
export interface GatewayProcess {
  url: string;
  child: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

/**
 * Spawns the built gateway (`dist/src/main.js`, see {@link builtEntry}: throws when it is missing or
 * older than the sources) with the given environment (PORT=0; the URL is read from its "jobwire
 * ready" log line). `onSpawn` sees the process before it is ready (to signal it while it starts).
 * Rejects when it exits or takes longer than `timeoutMs` (default 120 s: a loaded machine starts a
 * process slowly; a gateway that never becomes ready still fails) to be ready.
 */
export function spawnGateway(
  env: Record<string, string>,
  timeoutMs = 120_000,
  onSpawn?: (child: ChildProcess) => void,
): Promise<GatewayProcess> {
  const root = path.resolve(__dirname, '../..');
  const child = spawn(process.execPath, [builtEntry('dist/src/main.js')], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      JOBWIRE_SEED_DEMO: 'false',
      ...TEST_SOURCE_ENV,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onSpawn?.(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gateway process not ready after ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      for (const line of out.split('\n')) {
        if (!line.includes('"jobwire ready"')) continue;
        clearTimeout(timer);
        const url = (JSON.parse(line) as { url: string }).url;
        resolve({
          url,
          child,
          output: () => out,
          stop: () =>
            new Promise<void>((done) => {
              // A process killed by a signal has no exit code, only a signal code.
              if (child.exitCode !== null || child.signalCode !== null) return done();
              child.once('exit', () => done());
              child.kill('SIGTERM');
              setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
            }),
        });
        return;
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`gateway process ${signal ? `was killed by ${signal}` : `exited with ${code}`} before it was ready:\n${out}`));
    });
  });
}
