/**
 * LOCAL executors of several replicas on one database: a load commits only while its executor
 * still holds the run's lease (the fence), and each replica claims only the runs whose sources it
 * may read.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { makePgSink, type PgSinkOptions } from '../../src/backends/local/ingest';
import type { LocalQueueService } from '../../src/backends/local/local-queue.service';
import type { Config } from '../../src/config';
import type { Core } from '../../src/core';
import { openPostgres, type Database } from '../../src/db/orm';
import { ErrorKind, RunStatus, RunTrigger, SourceType, type RunView } from '../../src/domain';
import { makeMemoryBus, type EventBus } from '../../src/events/bus';
import { Topic } from '../../src/events/topics';
import { makeLogger } from '../../src/logger';
import { makeLocalExecutor, type LocalExecutor } from '../../workers/local-executor';
import { testCore } from '../helpers/core';
import { createTestDatabase } from '../helpers/db';
import { deferred, waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';

const disposables = new Disposables();
const logger = makeLogger((process.env.TEST_LOG_LEVEL as 'silent') ?? 'silent');
let db: Database;
let bus: EventBus;
let core: Core & { config: Readonly<Config> };
let dir: string;
/** What an executor watches (the live service's backend status feed), over the test's bus. */
const live = { backendStatus: (kind: string) => bus.subscribe(Topic.BACKEND_RUN_STATUS, kind) };

beforeAll(async () => {
  const database = await createTestDatabase('executor_replicas');
  disposables.defer(() => database.drop());
  db = disposables.add(await openPostgres(database.url), (d) => d.close());
  bus = disposables.add(makeMemoryBus('replicas:'), (b) => b.close());
  core = testCore(db, bus, { logger, config: { localLeaseMs: 400, retryBaseDelayMs: 50, retryMaxDelayMs: 100 } });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-replicas-'));
  disposables.defer(() => fs.rmSync(dir, { recursive: true, force: true }));
});
afterAll(() => disposables.disposeAll());

let counter = 0;
async function startRun(source: { type: SourceType; params: Record<string, unknown> }) {
  const table = `replica_${++counter}`;
  const job = await core.jobs.create({ name: table, source, destination: { schema: 'public', table }, maxAttempts: 3 });
  const { run } = await core.runEvents.createRun(job.id, RunTrigger.MANUAL);
  return { runId: run.id, table };
}

const readRun = async (id: string): Promise<RunView> => (await core.runs.get(id))!;
const waitForRun = (id: string, ok: (r: RunView) => boolean, what: string, timeoutMs = 15_000) =>
  waitFor(
    async () => {
      const r = await readRun(id);
      return ok(r) ? r : null;
    },
    `run ${id} ${what}`,
    timeoutMs,
  );
const logsOf = async (runId: string) =>
  (await db.pool!.query<{ message: string }>('select message from run_logs where run_id = $1 order by seq', [runId])).rows.map(
    (r) => r.message,
  );

function executor(
  instanceId: string,
  overrides: Partial<Config>,
  opts: Partial<Pick<Parameters<typeof makeLocalExecutor>[0], 'localQueue' | 'live' | 'runEvents'>> = {},
): LocalExecutor {
  const x = makeLocalExecutor({
    localQueue: opts.localQueue ?? core.localQueue,
    runEvents: opts.runEvents ?? core.runEvents,
    live: opts.live ?? live,
    config: { ...core.config, localConcurrency: 1, ...overrides },
    logger,
    instanceId,
    makeSink: (o?: PgSinkOptions) => makePgSink(db.pool!, o),
  });
  disposables.defer(() => x.stop());
  return x;
}

describe('fencing', () => {
  it('an executor whose lease was taken over cannot commit its load: nothing of it lands, nothing of it is applied', async () => {
    // The first request (executor A's) sends a row, then hangs until released: A is "paused" mid-load.
    const firstRequest = deferred();
    const releaseA = deferred();
    let requests = 0;
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/csv' });
      if (++requests === 1) {
        res.write('id,who\n1,from-A\n');
        firstRequest.resolve();
        void releaseA.promise.then(() => res.end('2,from-A\n'));
      } else {
        res.end('id,who\n1,from-B\n2,from-B\n3,from-B\n');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    disposables.defer(() => new Promise((r) => server.close(r)));
    disposables.defer(() => server.closeAllConnections());
    const { runId, table } = await startRun({
      type: SourceType.HTTP,
      params: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders.csv` },
    });

    // A is partitioned: its lease renewals and reports fail and it hears nothing from the bus (it
    // cannot learn of the takeover); only its load's own transaction still reaches the database.
    const q: LocalQueueService = core.localQueue;
    const fenced = deferred();
    const a = executor(
      'replica-a',
      {},
      {
        live: { backendStatus: () => Promise.reject(new Error('bus unreachable')) },
        runEvents: { applyBatch: () => Promise.reject(new Error('partitioned')) },
        localQueue: {
          claim: (o) => q.claim(o),
          renew: () => Promise.reject(new Error('partitioned')),
          handBack: (...args) => q.handBack(...args),
          release: (owner) => q.release(owner),
          announce: (...args) => q.announce(...args),
          commitFence: (lease, onLost) =>
            q.commitFence(lease, () => {
              fenced.resolve();
              onLost();
            }),
        },
      },
    );
    await a.start();
    await firstRequest.promise;
    expect(a.activeRunIds()).toEqual([runId]);

    // Its lease runs out; the stuck monitor fails attempt 1, the retry queues attempt 2, replica B executes it.
    await waitFor(async () => (await core.liveness.reconcileStuck(10)).lost > 0, 'the stuck monitor to find the run lost');
    await waitFor(async () => (await core.retries.startDue(10)).length > 0 || (await readRun(runId)).attempt === 2, 'the retry');
    const b = executor('replica-b', {});
    await b.start();
    const done = await waitForRun(runId, (r) => r.status === RunStatus.SUCCEEDED, 'to succeed on replica B');
    expect(done.attempt).toBe(2);

    // A wakes up and finishes reading: its commit is refused, in the same transaction as the load.
    releaseA.resolve();
    await fenced.promise;
    await waitFor(() => a.activeRunIds().length === 0, 'replica A to drop the run');
    const rows = await db.pool!.query<{ who: string }>(`select who from public.${table} order by id`);
    expect(rows.rows.map((r) => r.who)).toEqual(['from-B', 'from-B', 'from-B']);
    const after = await readRun(runId);
    expect(after).toMatchObject({ status: RunStatus.SUCCEEDED, attempt: 2, version: done.version });
    expect((await logsOf(runId)).filter((m) => /succeeded in/.test(m))).toHaveLength(1);
    await Promise.all([a.stop(), b.stop()]);
  });
});

describe('claims by readable sources', () => {
  it('each replica claims only runs it may read; one no replica may read fails PERMANENT, without spending attempts', async () => {
    const rootA = fs.mkdtempSync(path.join(dir, 'a-'));
    const rootB = fs.mkdtempSync(path.join(dir, 'b-'));
    const nowhere = fs.mkdtempSync(path.join(dir, 'none-'));
    for (const d of [rootA, rootB, nowhere]) fs.writeFileSync(path.join(d, 'in.csv'), `id,dir\n1,${path.basename(d)}\n`);

    // The replicas of the test before (allowed every path) no longer count as alive.
    await waitFor(
      async () =>
        (await db.pool!.query("select 1 from worker_leases where name like 'local-executor:%' and expires_at > now()")).rowCount === 0,
      'earlier replicas to expire',
    );
    const a = executor('roots-a', { localSourceRoots: [rootA] });
    const b = executor('roots-b', { localSourceRoots: [rootB] });
    await Promise.all([a.start(), b.start()]);
    const forA = await startRun({ type: SourceType.LOCAL, params: { path: path.join(rootA, 'in.csv') } });
    const forB = await startRun({ type: SourceType.LOCAL, params: { path: path.join(rootB, 'in.csv') } });
    const forNone = await startRun({ type: SourceType.LOCAL, params: { path: path.join(nowhere, 'in.csv') } });

    for (const [{ runId, table }, who, root] of [
      [forA, 'roots-a', rootA],
      [forB, 'roots-b', rootB],
    ] as const) {
      expect(await waitForRun(runId, (r) => r.status === RunStatus.SUCCEEDED, `to succeed on ${who}`)).toMatchObject({ attempt: 1 });
      expect((await logsOf(runId)).filter((m) => m.startsWith('claimed by'))).toEqual([expect.stringContaining(`claimed by ${who}`)]);
      const loaded = await db.pool!.query<{ dir: string }>(`select dir from public.${table}`);
      expect(loaded.rows).toEqual([{ dir: path.basename(root) }]);
    }
    // Nobody may read it: failed once both replicas looked, PERMANENT, on its first attempt.
    const none = await waitForRun(forNone.runId, (r) => r.status === RunStatus.FAILED, 'to fail');
    expect(none).toMatchObject({ attempt: 1, nextRetryAt: null });
    expect(none.error).toMatchObject({
      kind: ErrorKind.PERMANENT,
      message: expect.stringContaining('no gateway executing LOCAL runs may read'),
    });
    expect((await logsOf(forNone.runId)).some((m) => m.startsWith('claimed by'))).toBe(false);

    // A replica that stops still counts for a while (2 leases): a run only it may read waits for it instead of failing.
    await a.stop();
    const forA2 = await startRun({ type: SourceType.LOCAL, params: { path: path.join(rootA, 'in.csv') } });
    await waitFor(async () => (await logsOf(forA2.runId)).some((m) => m.includes('not claimed by roots-b')), 'B to skip it');
    expect(await readRun(forA2.runId)).toMatchObject({ status: RunStatus.QUEUED, attempt: 1 });
    const again = executor('roots-a-again', { localSourceRoots: [rootA] });
    await again.start();
    expect(await waitForRun(forA2.runId, (r) => r.status === RunStatus.SUCCEEDED, 'to succeed on A again')).toMatchObject({ attempt: 1 });
  });
});
