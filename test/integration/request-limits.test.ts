/**
 * What one request or socket may cost, on a whole gateway (real PostgreSQL and Redis), over HTTP
 * and WebSocket alike: aliases and root mutation fields are limited before anything runs,
 * introspection and "Did you mean" hints are off unless enabled, and a socket that never sends
 * `connection_init` is closed after the configured time.
 */
import 'reflect-metadata';
import path from 'node:path';
import WebSocket from 'ws';
import type { App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { packageRoot } from '../../src/paths';
import { startTestApp, wsUrl } from '../helpers/app';
import { createTestDatabase, uniqueRedisPrefix } from '../helpers/db';
import { Disposables } from '../helpers/disposables';
import { gql, ok, type GqlError } from '../helpers/http';
import { createWsClient, type TestWsClient } from '../helpers/ws-client';

const disposables = new Disposables();
let app: App;
let url: string;
let ws: TestWsClient;
/** The same gateway's database behind a second gateway with introspection on (as the embedded default has it). */
let open: App;

const defaults = loadConfig({}).limits;

beforeAll(async () => {
  const db = await createTestDatabase('limits');
  disposables.defer(() => db.drop());
  const common = { databaseUrl: db.url, redisPrefix: uniqueRedisPrefix('limits'), workers: false };
  app = await startTestApp({ ...common, limits: { ...defaults, introspection: false }, wsConnectionInitTimeoutMs: 300 });
  disposables.defer(() => app.stop());
  open = await startTestApp({ ...common, migrate: false, limits: { ...defaults, introspection: true } });
  disposables.defer(() => open.stop());
  url = `${app.url}/graphql`;
  ws = disposables.add(await createWsClient(wsUrl(app)), (c) => c.dispose());
});
afterAll(() => disposables.disposeAll());

const aliased = (n: number, field: string) => Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ');

/** `n` aliased createJob of one valid job (each would create a job of its own). */
const createJobs = (n: number) => `mutation($input: CreateJobInput!) { ${aliased(n, 'createJob(input: $input) { id }')} }`;
const input = {
  name: 'bulk',
  source: { type: 'LOCAL', params: { path: path.join(packageRoot(), 'samples', 'orders.csv') } },
  destination: { schema: 'public', table: 'orders' },
};

const jobCount = async () => ok(await gql<{ jobs: { totalCount: number } }>(url, '{ jobs { totalCount } }')).jobs.totalCount;

/** What a WebSocket client gets for one operation: its messages, ending with the error or the result. */
async function overWs(query: string, variables?: Record<string, unknown>): Promise<{ data?: unknown; errors?: GqlError[] }> {
  return ws.subscribe(query, variables).next(10_000);
}

const codes = (errors: GqlError[] | undefined) => errors?.map((e) => e.extensions?.code);

describe('root mutation fields', () => {
  it('refuses 150 aliased createJob in one request over HTTP, and creates no job', async () => {
    const before = await jobCount();
    const res = await gql(url, createJobs(150), { input });
    expect(res.status).toBe(400);
    expect(res.data).toBeUndefined();
    // The aliases are over their limit too: both are said.
    expect(res.errors?.map((e) => e.message)).toContain('Mutation has 150 root fields; the limit is 5 per request');
    expect(new Set(codes(res.errors))).toEqual(new Set(['GRAPHQL_VALIDATION_FAILED']));
    expect(await jobCount()).toBe(before);
  });

  it('refuses them over the WebSocket too, and creates no job', async () => {
    const before = await jobCount();
    const res = await overWs(createJobs(150), { input });
    expect(res.errors?.map((e) => e.message)).toContain('Mutation has 150 root fields; the limit is 5 per request');
    expect(new Set(codes(res.errors))).toEqual(new Set(['GRAPHQL_VALIDATION_FAILED']));
    expect(await jobCount()).toBe(before);
  });

  it('runs five in one request', async () => {
    const before = await jobCount();
    const data = ok(await gql<Record<string, { id: string }>>(url, createJobs(5), { input }));
    expect(new Set(Object.values(data).map((j) => j.id)).size).toBe(5);
    expect(await jobCount()).toBe(before + 5);
  });
});

describe('aliases', () => {
  const attack = `{ ${aliased(800, 'jobStats{running}')} }`;

  it('refuses 800 aliases of jobStats over HTTP at once, running none of them', async () => {
    const started = Date.now();
    const res = await gql(url, attack);
    const ms = Date.now() - started;
    expect(res.status).toBe(400);
    expect(res.errors?.map((e) => e.message)).toEqual(['Operation has 800 aliases; the limit is 15']);
    expect(codes(res.errors)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(ms).toBeLessThan(3000); // executed, they took 7.4 s
  });

  it('refuses them over the WebSocket too', async () => {
    const res = await overWs(attack);
    expect(res.errors?.map((e) => e.message)).toEqual(['Operation has 800 aliases; the limit is 15']);
  });

  it('answers a dashboard query with a few aliases', async () => {
    const data = ok(
      await gql<Record<string, { totalCount: number }>>(
        url,
        '{ queued: runs(filter: { status: QUEUED }) { totalCount } failed: runs(filter: { status: FAILED }) { totalCount } }',
      ),
    );
    expect(Object.keys(data)).toEqual(['queued', 'failed']);
  });
});

describe('introspection and suggestions, off (a gateway with DATABASE_URL)', () => {
  const refusal = 'Introspection is off on this gateway (field "__schema"); GRAPHQL_INTROSPECTION=true turns it on';

  it('refuses __schema over HTTP and WebSocket', async () => {
    const res = await gql(url, '{ __schema { queryType { name } } }');
    expect([res.status, res.errors?.map((e) => e.message), codes(res.errors)]).toEqual([400, [refusal], ['GRAPHQL_VALIDATION_FAILED']]);
    expect((await overWs('{ __schema { queryType { name } } }')).errors?.map((e) => e.message)).toEqual([refusal]);
  });

  it('still answers __typename', async () => {
    expect(ok(await gql(url, '{ __typename jobs { __typename } }'))).toEqual({
      __typename: 'Query',
      jobs: { __typename: 'JobConnection' },
    });
  });

  it('leaves "Did you mean" out of validation errors, over HTTP and WebSocket', async () => {
    const res = await gql(url, '{ jobz { totalCount } }');
    expect(res.errors?.map((e) => e.message)).toEqual(['Cannot query field "jobz" on type "Query".']);
    expect((await overWs('{ jobz { totalCount } }')).errors?.map((e) => e.message)).toEqual(['Cannot query field "jobz" on type "Query".']);
  });

  it('leaves it out of variable errors', async () => {
    const res = await gql(url, 'query($s: RunStatus) { runs(filter: { status: $s }) { totalCount } }', { s: 'RUNNIN' });
    expect(res.errors?.map((e) => e.message)).toEqual([
      'Variable "$s" got invalid value "RUNNIN"; Value "RUNNIN" does not exist in "RunStatus" enum.',
    ]);
    expect(codes(res.errors)).toEqual(['BAD_USER_INPUT']);
  });
});

describe('introspection and suggestions, on (GRAPHQL_INTROSPECTION=true, or the embedded default)', () => {
  it('answers __schema, and says "Did you mean"', async () => {
    const openUrl = `${open.url}/graphql`;
    expect(ok(await gql(openUrl, '{ __schema { queryType { name } } }'))).toEqual({ __schema: { queryType: { name: 'Query' } } });
    const res = await gql(openUrl, '{ jobz { totalCount } }');
    expect(res.errors?.[0].message).toMatch(/^Cannot query field "jobz" on type "Query"\. Did you mean "job" or "jobs"\?$/);
  });
});

describe('connection_init timeout', () => {
  it('closes a socket that never sends connection_init with 4408 after WS_CONNECTION_INIT_TIMEOUT_MS', async () => {
    const socket = new WebSocket(wsUrl(app), 'graphql-transport-ws');
    const opened = Date.now();
    const closed = await new Promise<{ code: number; reason: string; ms: number }>((resolve) =>
      socket.once('close', (code, reason) => resolve({ code, reason: reason.toString(), ms: Date.now() - opened })),
    );
    expect([closed.code, closed.reason]).toEqual([4408, 'Connection initialisation timeout']);
    expect(closed.ms).toBeGreaterThanOrEqual(250);
  });

  it('acknowledges a connection_init that arrived while the gateway was too busy to read it', async () => {
    const socket = new WebSocket(wsUrl(app), 'graphql-transport-ws');
    const first = new Promise<string>((resolve) => {
      socket.once('message', (data) => resolve(String(data)));
      socket.once('close', (code) => resolve(`closed ${code}`));
    });
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: 'connection_init' }));
    // The gateway runs in this process: block its event loop past the 300 ms timeout, as a burst
    // of upgrades does, with the connection_init already in its socket.
    const until = Date.now() + 600;
    while (Date.now() < until);
    expect(await first).toBe('{"type":"connection_ack"}');
    socket.close();
  });
});
