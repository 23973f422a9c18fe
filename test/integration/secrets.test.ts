/**
 * Secrets in job configuration are stored and used, and never returned by the API, logged, or
 * published as events — checked end to end while a run uses them.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import type { App } from '../../src/app';
import { makeLogger } from '../../src/logger';
import { CreateJobDocument, JobDocument, RunDocument, RunLogsDocument, StartJobDocument } from '../../client/generated/graphql';
import { httpUrl, startTestApp } from '../helpers/app';
import { REDIS_URL, createTestDatabase, uniqueRedisPrefix } from '../helpers/db';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';
import { gql, ok } from '../helpers/http';

const TOKEN = 'Bearer tk_live_7c1f9a3e5b';
const PASSWORD = 'pw-Zq81-unguessable';

describe('secrets', () => {
  const disposables = new Disposables();
  let app: App;
  let logs = '';
  const published: string[] = [];
  let sourceUrl: string;

  beforeAll(async () => {
    // A source that serves the CSV only to the right bearer token: the run succeeds only if the secret was used.
    const server = http.createServer((req, res) => {
      if (req.headers.authorization !== TOKEN) return void res.writeHead(401).end('no');
      res.writeHead(200, { 'content-type': 'text/csv' }).end('id,name\n1,a\n2,b\n3,c\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    disposables.add(server, (s) => new Promise((r) => s.close(r)));
    sourceUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders.csv?password=${encodeURIComponent(PASSWORD)}`;

    const db = disposables.add(await createTestDatabase('secrets'), (d) => d.drop());
    const prefix = uniqueRedisPrefix('secrets');
    const sniffer = disposables.add(new Redis(REDIS_URL), (r) => r.quit());
    await sniffer.psubscribe(`${prefix}*`);
    sniffer.on('pmessage', (_p, _c, message) => published.push(message));
    const logger = makeLogger('trace', {}, { write: (line: string) => void (logs += line) });
    app = disposables.add(await startTestApp({ databaseUrl: db.url, redisPrefix: prefix, logLevel: 'trace' }, { logger }), (a) => a.stop());
  }, 60_000);

  afterAll(() => disposables.disposeAll());

  it('uses a secret header to fetch the source, and never returns, logs or publishes it', async () => {
    const url = httpUrl(app);
    const job = ok(
      await gql(url, CreateJobDocument, {
        input: {
          name: 'secret source',
          source: { type: 'HTTP' as never, params: { url: sourceUrl, headers: { Authorization: TOKEN }, apiToken: TOKEN } },
          destination: { schema: 'secrets', table: 'orders' },
        },
      }),
    ).createJob;
    const params = job.source.params as { headers: Record<string, string>; apiToken: string };
    expect(params.headers.Authorization).toBe('***');
    expect(params.apiToken).toBe('***');

    const run = ok(await gql(url, StartJobDocument, { id: job.id })).startJob;
    const final = await waitFor(
      async () => {
        const r = ok(await gql(url, RunDocument, { id: run.id })).run!;
        return ['SUCCEEDED', 'FAILED'].includes(r.status) ? r : null;
      },
      'the run to finish',
      20_000,
    );
    expect(final.error).toBeNull();
    expect(final.status).toBe('SUCCEEDED');

    const readBack = JSON.stringify(ok(await gql(url, JobDocument, { id: job.id })));
    const runLogs = JSON.stringify(ok(await gql(url, RunLogsDocument, { id: run.id, first: 1000 })));
    await new Promise((r) => setTimeout(r, 200)); // let the last Redis messages arrive
    for (const [where, text] of [
      ['API', readBack],
      ['run logs', runLogs],
      ['gateway log', logs],
      ['Redis', published.join('\n')],
    ] as const) {
      expect({ where, token: text.includes('tk_live_7c1f9a3e5b') }).toEqual({ where, token: false });
      expect({ where, password: text.includes(PASSWORD) }).toEqual({ where, password: false });
    }
    // The checks above mean something only if those channels carried this run at all.
    expect(published.some((m) => m.includes(run.id))).toBe(true);
    expect(logs).toContain(run.id);
  }, 60_000);
});
