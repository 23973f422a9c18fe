import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { createApp, type App } from '../../src/app';
import { loadConfig, type Config } from '../../src/config';
import { REDIS_URL } from './db';

/**
 * Starts a whole gateway (HTTP + WebSocket on a free port, workers on unless told otherwise) for a
 * test, on the given database and Redis prefix. Environment variables are ignored: tests say what
 * they run on.
 */
export async function startTestApp(overrides: Partial<Config> & { databaseUrl?: string }): Promise<App> {
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
      ...overrides,
    },
  );
  return createApp(config);
}

/** `ws://` URL of an app's GraphQL endpoint. */
export const wsUrl = (app: App) => `${app.url.replace(/^http/, 'ws')}/graphql`;
export const httpUrl = (app: App) => `${app.url}/graphql`;
