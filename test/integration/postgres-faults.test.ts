/**
 * A gateway process whose PostgreSQL stops in the middle of a LOCAL run (a private server this file
 * stops and starts, fast shutdown: every connection is cut, the load's COPY included) and comes back:
 * the process lives on and says so, `/readyz` is 503 while the database is away and 200 once it is
 * back, and the run — its first attempt failed TRANSIENT — is retried by the same process and ends
 * SUCCEEDED with every row in the destination exactly once.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';
import { CreateJobDocument, RunDocument, StartJobDocument } from '../../client/generated/graphql';
import { spawnGateway, type GatewayProcess } from '../helpers/app';
import { REDIS_URL, uniqueRedisPrefix } from '../helpers/db';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';
import { gql, ok } from '../helpers/http';
import { canRunPrivatePostgres, startPrivatePostgres } from '../helpers/private-postgres';

const disposables = new Disposables();
afterAll(() => disposables.disposeAll());

const ROWS = 30_000;

const alive = (gw: GatewayProcess) => gw.child.exitCode === null && gw.child.signalCode === null;

async function readyz(gw: GatewayProcess): Promise<{ status: number; checks: Record<string, string> }> {
  const res = await fetch(`${gw.url}/readyz`);
  return { status: res.status, checks: ((await res.json()) as { checks: Record<string, string> }).checks };
}

(canRunPrivatePostgres() ? describe : describe.skip)('PostgreSQL restarted under a running gateway', () => {
  it('keeps the process alive, reports 503 meanwhile, and the run retries to SUCCEEDED with each row once', async () => {
    const pg = disposables.add(await startPrivatePostgres(), (p) => p.destroy());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-pg-faults-'));
    disposables.defer(() => fs.rmSync(dir, { recursive: true, force: true }));
    const rows = ['id,name'];
    for (let i = 1; i <= ROWS; i++) rows.push(`${i},name ${i}`);
    fs.writeFileSync(path.join(dir, 'rows.csv'), rows.join('\n') + '\n');
    const gw = await spawnGateway({
      DATABASE_URL: pg.url,
      REDIS_URL,
      REDIS_PREFIX: uniqueRedisPrefix('pgfault'),
      LOCAL_SOURCE_ROOTS: dir,
      RETRY_BASE_DELAY_MS: '500',
    });
    disposables.defer(() => gw.stop());
    const url = `${gw.url}/graphql`;
    const job = ok(
      await gql(url, CreateJobDocument, {
        input: {
          name: 'pg-fault',
          source: { type: 'LOCAL' as never, params: { path: path.join(dir, 'rows.csv') } },
          destination: { schema: 'public', table: 'pg_fault' },
          // About 10 s of loading: the database goes away in the middle of it.
          processing: { format: 'CSV' as never, batchSize: 500, maxRowsPerSecond: 3000 },
        },
      }),
    ).createJob;
    const run = ok(await gql(url, StartJobDocument, { id: job.id })).startJob;
    await waitFor(
      async () => {
        const r = ok(await gql(url, RunDocument, { id: run.id })).run!;
        return r.status === 'RUNNING' && (r.stages.find((s) => s.name === 'load')?.completedItems ?? 0) > 0;
      },
      'the load to be under way',
      30_000,
    );

    pg.stop();
    const down = await waitFor(async () => {
      const r = await readyz(gw);
      return r.status === 503 ? r : null;
    }, '/readyz to say the database is down');
    expect(down.checks.database).not.toBe('ok');
    // Idle pooled connections were cut: the pools' error handlers logged it, nobody crashed.
    await waitFor(() => gw.output().includes('PostgreSQL connection lost'), 'the pool error to be logged', 15_000);
    // The executor's loop backs off (2 s, 4 s, …): its third failure comes more than 6 s into the
    // outage — past the 4 s after which an unhandled 'error' used to end the process.
    await waitFor(
      () => /"loop":"local-executor","consecutiveFailures":3/.test(gw.output()) || !alive(gw),
      'the executor to fail a third time in a row',
      30_000,
    );
    expect(alive(gw)).toBe(true);
    expect((await readyz(gw)).status).toBe(503);

    pg.start();
    await waitFor(async () => (await readyz(gw)).status === 200, '/readyz to be 200 again', 30_000);
    const final = await waitFor(
      async () => {
        const r = ok(await gql(url, RunDocument, { id: run.id })).run!;
        return ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(r.status) && r.attempt > 1 ? r : null;
      },
      'the retried run to end',
      120_000,
    );
    expect(final.status).toBe('SUCCEEDED');
    expect(final.attempts[0]).toMatchObject({ attempt: 1, status: 'FAILED', error: { kind: 'TRANSIENT' } });
    expect(alive(gw)).toBe(true);

    const check = disposables.add(new Pool({ connectionString: pg.url, max: 1 }), (p) => p.end());
    const { rows: counts } = await check.query('select count(*)::int as n, count(distinct id)::int as ids from public.pg_fault');
    expect(counts[0]).toEqual({ n: ROWS, ids: ROWS });
  }, 300_000);
});
