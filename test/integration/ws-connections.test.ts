/**
 * A burst of WebSocket connections, as dashboards reconnecting after a deploy make it: 2,000
 * graphql-ws connections opened at 200 per 100 ms against the built gateway in a process of its
 * own (real PostgreSQL and Redis). Every one is acknowledged and stays open past the
 * connection_init timeout. (`bench/ws-connections.ts` does 10,000, beside a plain ws server.)
 */
import { openBurst } from '../../bench/ws-connections';
import { spawnGateway, type GatewayProcess } from '../helpers/app';
import { createTestDatabase, REDIS_URL, uniqueRedisPrefix } from '../helpers/db';
import { Disposables } from '../helpers/disposables';

const disposables = new Disposables();
let gateway: GatewayProcess;

beforeAll(async () => {
  const db = await createTestDatabase('wsconn');
  disposables.defer(() => db.drop());
  gateway = await spawnGateway({
    DATABASE_URL: db.url,
    REDIS_URL,
    REDIS_PREFIX: uniqueRedisPrefix('wsconn'),
    JOBWIRE_WORKERS: 'false',
  });
  disposables.defer(() => gateway.stop());
}, 150_000);
afterAll(() => disposables.disposeAll());

it('acknowledges 2,000 connections opened at 200 per 100 ms, and keeps them all open', async () => {
  const burst = await openBurst({ url: `${gateway.url.replace(/^http/, 'ws')}/graphql`, count: 2000, perTick: 200, tickMs: 100 });
  disposables.defer(() => burst.close());
  expect({ acked: burst.acked, failed: burst.failed, reasons: burst.reasons }).toEqual({ acked: 2000, failed: 0, reasons: {} });
  // Past the 3 s connection_init timeout: an acknowledged connection is not closed by it.
  await new Promise((resolve) => setTimeout(resolve, 3500));
  expect(burst.open()).toBe(2000);
}, 120_000);
