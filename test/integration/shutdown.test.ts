/**
 * A gateway process stops gracefully on one SIGTERM: it finishes with exit code 0, and a LOCAL run
 * it was executing goes back to the queue on the same attempt (a graceful stop spends none), its
 * lease released, ready for any gateway to take. A signal that arrives while it is still starting stops it once it is up.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { openPostgres, type Database } from '../../src/db/orm';
import { RunEntity } from '../../src/db/entities';
import { CreateJobDocument, RunDocument, StartJobDocument } from '../../client/generated/graphql';
import { spawnGateway } from '../helpers/app';
import { createTestDatabase } from '../helpers/db';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';
import { gql, ok } from '../helpers/http';

describe('graceful shutdown', () => {
  const disposables = new Disposables();
  afterAll(() => disposables.disposeAll());

  it('stops on one SIGTERM with exit code 0, handing its running LOCAL run back to the queue without spending an attempt', async () => {
    // A source that sends a header row, then trickles rows forever: the run stays RUNNING.
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/csv' });
      res.write('id,name\n');
      let i = 0;
      const timer = setInterval(() => res.write(`${++i},row${i}\n`), 20);
      res.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    disposables.add(
      server,
      (s) =>
        new Promise((r) => {
          s.closeAllConnections();
          s.close(() => r(undefined));
        }),
    );
    const source = `http://127.0.0.1:${(server.address() as AddressInfo).port}/endless.csv`;

    const testDb = disposables.add(await createTestDatabase('shutdown'), (d) => d.drop());
    const db: Database = disposables.add(await openPostgres(testDb.url), (d) => d.close());
    const gateway = await spawnGateway({ DATABASE_URL: testDb.url, RETRY_BASE_DELAY_MS: '60000' });
    disposables.defer(() => gateway.stop());
    const url = `${gateway.url}/graphql`;

    const job = ok(
      await gql(url, CreateJobDocument, {
        input: {
          name: 'endless',
          source: { type: 'HTTP' as never, params: { url: source } },
          destination: { schema: 'shutdown', table: 'rows' },
        },
      }),
    ).createJob;
    const run = ok(await gql(url, StartJobDocument, { id: job.id })).startJob;
    await waitFor(async () => ok(await gql(url, RunDocument, { id: run.id })).run!.status === 'RUNNING', 'the run to be RUNNING');

    const exited = new Promise<number | null>((r) => gateway.child.once('exit', (code) => r(code)));
    gateway.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(gateway.output()).toContain('local executor stopped');
    expect(gateway.output()).not.toContain('second signal');

    const after = await db.orm.em.fork().findOneOrFail(RunEntity, { id: run.id });
    expect(after).toMatchObject({ status: 'QUEUED', attempt: 1, error: null, nextRetryAt: null, leaseOwner: null });
    expect(after.attempts).toHaveLength(1);
  }, 240_000);

  it('stops with exit code 0 on a SIGTERM that arrives while it is still starting', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-early-signal-'));
    disposables.defer(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    let exited!: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
    const gateway = await spawnGateway({ JOBWIRE_DATA_DIR: dataDir }, undefined, (child) => {
      exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
      // The first log line ("database open") comes well before the gateway is ready.
      child.stdout!.once('data', () => child.kill('SIGTERM'));
    });
    disposables.defer(() => gateway.stop());

    expect(await exited).toEqual({ code: 0, signal: null });
    expect(gateway.output()).toContain('local executor stopped');
  }, 240_000);
});
