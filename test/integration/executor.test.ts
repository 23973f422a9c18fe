import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config';
import { TEST_SOURCE_ACCESS } from '../helpers/source-access';
import { JobEntity, LogLineEntity, MetricSampleEntity, RunEntity } from '../../src/db/entities';
import { openPostgres, type Database } from '../../src/db/orm';
import {
  ClusterMode,
  DataFormat,
  ErrorKind,
  ExecutionBackend,
  InstanceType,
  ProcessingMode,
  RunStatus,
  RunTrigger,
  SourceType,
  type RunView,
} from '../../src/domain';
import { makeRedisBus, type EventBus } from '../../src/events/bus';
import { Topic } from '../../src/events/topics';
import { makePgSink } from '../../src/backends/local/ingest';
import { makeLogger } from '../../src/logger';
import type { RunEventsService } from '../../src/runs/run-events.service';
import type { Core } from '../../src/core';
import { testCore } from '../helpers/core';
import { makeWorkers, type Workers } from '../../workers';
import { makeLocalExecutor } from '../../workers/local-executor';
import { createTestDatabase, REDIS_URL, uniqueRedisPrefix } from '../helpers/db';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';

const disposables = new Disposables();
const logger = makeLogger((process.env.TEST_LOG_LEVEL as 'silent') ?? 'silent');
let db: Database;
let bus: EventBus;
/** What the executor watches (the live service's backend status feed), over the test's bus. */
const live = { backendStatus: (kind: string) => bus.subscribe(Topic.BACKEND_RUN_STATUS, kind) };
let runEvents: RunEventsService;
let core: Core;
let config: Readonly<Config>;
let workers: Workers;
let dir: string;
let server: http.Server;
let baseUrl: string;

const GOOD_ROWS = 3000;
const BAD_ROWS = 20;

/** A CSV of `good` rows plus `bad` rows with a column too many, spread through the file. */
function csv(good: number, bad = 0): string {
  const lines = ['id,name,amount'];
  const every = bad ? Math.floor(good / bad) : Infinity;
  for (let i = 1, b = 0; i <= good; i++) {
    lines.push(`${i},name ${i},${(i * 1.5).toFixed(2)}`);
    if (b < bad && i % every === 0) {
      lines.push(`x${i},broken,1,extra`);
      b++;
    }
  }
  return lines.join('\n') + '\n';
}

/** HTTP routes the tests point HTTP sources at. */
const routes = new Map<string, (req: http.IncomingMessage, res: http.ServerResponse) => void>();

/** Fails with 503 `failures` times, then serves `body`. */
function flaky(route: string, failures: number, body: string) {
  let hits = 0;
  let authorization: string | undefined;
  routes.set(route, (req, res) => {
    hits++;
    authorization = req.headers.authorization;
    if (hits <= failures) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('try later');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/csv' }).end(body);
  });
  return { hits: () => hits, authorization: () => authorization };
}

/** Streams CSV rows in chunks every `everyMs` for `chunks` chunks (Infinity: until the client goes away). */
function trickle(route: string, opts: { rowsPerChunk: number; everyMs: number; chunks: number }) {
  routes.set(route, (req, res) => {
    res.writeHead(200, { 'content-type': 'text/csv' });
    res.write('id,name\n');
    let n = 0;
    let sent = 0;
    const timer = setInterval(() => {
      let chunk = '';
      for (let i = 0; i < opts.rowsPerChunk; i++) chunk += `${++n},row ${n}\n`;
      res.write(chunk);
      if (++sent >= opts.chunks) {
        clearInterval(timer);
        res.end();
      }
    }, opts.everyMs);
    req.on('close', () => clearInterval(timer));
  });
}

let jobCounter = 0;
async function createJob(
  source: { type: SourceType; params: Record<string, string | Record<string, string>> },
  opts: { maxAttempts?: number; batchSize?: number } = {},
) {
  const em = db.orm.em.fork();
  const table = `exec_${++jobCounter}_${Date.now() % 100000}`;
  const job = em.create(JobEntity, {
    name: `job ${jobCounter}`,
    backend: ExecutionBackend.LOCAL,
    source: { type: source.type, params: source.params, filePattern: null, schemaInference: true },
    destination: { schema: 'public', table },
    processing: {
      mode: ProcessingMode.BATCH,
      format: DataFormat.CSV,
      batchSize: opts.batchSize ?? 500,
      checkpointEnabled: false,
      watermarkSeconds: null,
      triggerIntervalSeconds: null,
    },
    compute: {
      clusterMode: ClusterMode.SINGLE_NODE,
      instanceType: InstanceType.STANDARD,
      minWorkers: 1,
      maxWorkers: 1,
      autoscaling: false,
      photon: false,
      adaptiveQueryExecution: false,
      dynamicPartitionPruning: false,
      costBasedOptimizer: false,
      sparkConf: null,
    },
    maxAttempts: opts.maxAttempts ?? 3,
  });
  await em.flush();
  return { jobId: job.id, table };
}

async function readRun(id: string): Promise<RunEntity> {
  return db.orm.em.fork().findOneOrFail(RunEntity, { id });
}

async function waitForStatus(id: string, statuses: RunStatus[], timeoutMs = 20_000): Promise<RunEntity> {
  return waitFor(
    async () => {
      const run = await readRun(id);
      return statuses.includes(run.status) && !(run.status === RunStatus.FAILED && run.nextRetryAt) ? run : null;
    },
    `run ${id} to reach ${statuses.join('/')}`,
    timeoutMs,
    25,
  );
}

beforeAll(async () => {
  const database = await createTestDatabase('executor');
  disposables.defer(() => database.drop());
  db = disposables.add(await openPostgres(database.url), (d) => d.close());
  bus = disposables.add(await makeRedisBus(REDIS_URL, uniqueRedisPrefix('executor')), (b) => b.close());
  config = loadConfig(
    {},
    {
      ...TEST_SOURCE_ACCESS,
      schedulerIntervalMs: 50,
      stuckCheckIntervalMs: 100,
      stuckThresholdMs: 300,
      localLeaseMs: 500,
      retryBaseDelayMs: 100,
      retryMaxDelayMs: 400,
      localConcurrency: 2,
    },
  );
  core = testCore(db, bus, { logger, config });
  runEvents = core.runEvents;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-executor-'));
  disposables.defer(() => fs.rmSync(dir, { recursive: true, force: true }));
  server = http.createServer((req, res) => {
    const handler = routes.get(req.url ?? '');
    if (handler) handler(req, res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  disposables.defer(() => new Promise((r) => server.close(r)));
  disposables.defer(() => server.closeAllConnections());
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  workers = makeWorkers({
    ...core,
    retention: core.runEvents,
    live,
    config,
    logger,
    instanceId: 'executor-test',
    makeSink: () => makePgSink(db.pool!),
  });
  disposables.defer(() => workers.stop());
  await workers.start();
});

afterAll(() => disposables.disposeAll());

describe('LOCAL executor', () => {
  it('loads a CSV: the run succeeds with final stage counts, ordered logs, metrics and the rows in the table', async () => {
    const file = path.join(dir, 'orders.csv');
    fs.writeFileSync(file, csv(GOOD_ROWS, BAD_ROWS));
    const { jobId, table } = await createJob({ type: SourceType.LOCAL, params: { path: file } });
    const { run } = await runEvents.createRun(jobId, RunTrigger.MANUAL);
    const seen: RunView[] = [];
    const sub = await bus.subscribe(Topic.RUN, run.id);
    void (async () => {
      for await (const v of sub) seen.push(v);
    })();
    try {
      const done = await waitForStatus(run.id, [RunStatus.SUCCEEDED, RunStatus.FAILED]);
      expect(done.error).toBeNull();
      expect(done.status).toBe(RunStatus.SUCCEEDED);
      expect(done.progress).toBe(1);
      expect(done.leaseOwner).toBeNull();

      const stages = (await core.runs.get(run.id))!.stages;
      const byName = Object.fromEntries(stages.map((s) => [s.name, s]));
      expect(stages.map((s) => s.name)).toEqual(['extract', 'transform', 'load']);
      expect(stages.every((s) => s.status === 'COMPLETED')).toBe(true);
      expect(byName.extract.completedItems).toBe(GOOD_ROWS + BAD_ROWS);
      expect(byName.transform.failedItems).toBe(BAD_ROWS);
      expect(byName.load.completedItems).toBe(GOOD_ROWS);

      // Subscribers saw the final counts before (or with) the final status.
      await waitFor(() => seen.some((v) => v.status === RunStatus.SUCCEEDED), 'the SUCCEEDED message');
      const final = seen.find((v) => v.status === RunStatus.SUCCEEDED)!;
      expect(final.stages.find((s) => s.name === 'load')?.completedItems).toBe(GOOD_ROWS);

      const em = db.orm.em.fork();
      const logs = await em.find(LogLineEntity, { runId: run.id }, { orderBy: { seq: 'asc' } });
      expect(logs.length).toBeGreaterThan(3);
      logs.forEach((l, i) => expect(l.seq).toBe(i + 1));
      expect(logs[0].message).toBe('claimed by executor-test (attempt 1 of 3)');
      expect(logs.at(-1)!.message).toMatch(/^succeeded in .* 3000 rows loaded into "public"\."exec_/);
      expect(logs.some((l) => l.level === 'WARN' && /expected 3 columns, got 4/.test(l.message))).toBe(true);

      const samples = await em.find(MetricSampleEntity, { runId: run.id });
      expect(samples.length).toBeGreaterThanOrEqual(1);
      expect(done.metrics).toMatchObject({ recordsProcessed: GOOD_ROWS, recordsFailed: BAD_ROWS, activeWorkers: 1 });
      expect(done.metrics!.bytesProcessed).toBe(fs.statSync(file).size);

      const count = await db.pool!.query(`select count(*)::int as n from public."${table}"`);
      expect(count.rows[0].n).toBe(GOOD_ROWS);
    } finally {
      sub.close();
    }
  });

  it('fails a run with a missing file PERMANENT and does not retry it', async () => {
    const { jobId } = await createJob({ type: SourceType.LOCAL, params: { path: path.join(dir, 'missing.csv') } });
    const { run } = await runEvents.createRun(jobId, RunTrigger.MANUAL);
    const failed = await waitForStatus(run.id, [RunStatus.FAILED, RunStatus.SUCCEEDED]);
    expect(failed.status).toBe(RunStatus.FAILED);
    expect(failed.error).toMatchObject({ kind: ErrorKind.PERMANENT });
    expect(failed.error!.message).toContain('file not found');
    expect(failed.nextRetryAt).toBeNull();
    expect(failed.deadLettered).toBe(false);
    // Several scheduler passes later it is still attempt 1.
    await new Promise((r) => setTimeout(r, 400));
    const later = await readRun(run.id);
    expect(later.attempt).toBe(1);
    expect(later.status).toBe(RunStatus.FAILED);
  });

  it('retries a TRANSIENT failure: two 503s, then success on attempt 3', async () => {
    const source = flaky('/flaky.csv', 2, csv(500));
    const { jobId, table } = await createJob({
      type: SourceType.HTTP,
      params: { url: `${baseUrl}/flaky.csv`, headers: { authorization: 'Bearer top-secret-token' } },
    });
    const { run } = await runEvents.createRun(jobId, RunTrigger.MANUAL);
    const done = await waitForStatus(run.id, [RunStatus.SUCCEEDED, RunStatus.FAILED]);
    expect(done.status).toBe(RunStatus.SUCCEEDED);
    expect(done.attempt).toBe(3);
    expect(source.hits()).toBe(3);
    expect(done.attempts.map((a) => [a.attempt, a.status, a.error?.kind ?? null])).toEqual([
      [1, RunStatus.FAILED, ErrorKind.TRANSIENT],
      [2, RunStatus.FAILED, ErrorKind.TRANSIENT],
      [3, RunStatus.SUCCEEDED, null],
    ]);
    expect(done.attempts[0].error!.message).toContain('HTTP 503');
    expect(source.authorization()).toBe('Bearer top-secret-token');
    // The header was used, and appears in none of the run's log lines or errors.
    const logs = await db.orm.em.fork().find(LogLineEntity, { runId: run.id });
    expect(logs.length).toBeGreaterThan(5);
    expect(JSON.stringify([logs, done.attempts])).not.toContain('top-secret-token');
    const count = await db.pool!.query(`select count(*)::int as n from public."${table}"`);
    expect(count.rows[0].n).toBe(500);
  });

  it('dead-letters a run whose source keeps failing once maxAttempts is used up', async () => {
    const source = flaky('/down.csv', Infinity, '');
    const { jobId } = await createJob({ type: SourceType.HTTP, params: { url: `${baseUrl}/down.csv` } }, { maxAttempts: 2 });
    const { run } = await runEvents.createRun(jobId, RunTrigger.MANUAL);
    const dead = await waitFor(async () => {
      const r = await readRun(run.id);
      return r.deadLettered ? r : null;
    }, 'the run to be dead-lettered');
    expect(dead.status).toBe(RunStatus.FAILED);
    expect(dead.attempt).toBe(2);
    expect(dead.nextRetryAt).toBeNull();
    expect(dead.error).toMatchObject({ kind: ErrorKind.TRANSIENT });
    await new Promise((r) => setTimeout(r, 300));
    expect(source.hits()).toBe(2);
  });

  /** Sessions of this database inside a transaction that has written (holds an xid), other than this one. */
  const writers = async () =>
    (
      await db.pool!.query(
        `select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and backend_xid is not null`,
      )
    ).rows[0].n as number;

  it('stops a running ingest within 2 s when the run is stopped (not forced)', async () => {
    trickle('/endless.csv', { rowsPerChunk: 1000, everyMs: 20, chunks: Infinity });
    const { jobId, table } = await createJob({ type: SourceType.HTTP, params: { url: `${baseUrl}/endless.csv` } }, { batchSize: 1000 });
    const { run } = await runEvents.createRun(jobId, RunTrigger.MANUAL);
    await waitFor(async () => (await readRun(run.id)).metrics?.recordsProcessed, 'rows to be loaded');
    const asked = Date.now();
    const stopping = await runEvents.apply({ runId: run.id, type: 'run.cancel', payload: { force: false } });
    expect(stopping.run.status).toBe(RunStatus.CANCELLING);
    const ended = await waitForStatus(run.id, [RunStatus.CANCELLED, RunStatus.FAILED, RunStatus.SUCCEEDED], 5000);
    expect(ended.status).toBe(RunStatus.CANCELLED);
    expect(Date.now() - asked).toBeLessThan(2000);
    expect(ended.nextRetryAt).toBeNull();
    expect(ended.leaseOwner).toBeNull();
    // The attempt's rows (and the table it created) were never committed: nothing is half-written.
    const visible = await db.pool!.query(`select to_regclass($1) as t`, [`public."${table}"`]);
    expect(visible.rows[0].t).toBeNull();
  });

  it('lets go of a force-stopped run at once: loading stops and the attempt is summarised in its log', async () => {
    trickle('/endless-2.csv', { rowsPerChunk: 1000, everyMs: 20, chunks: Infinity });
    const { jobId, table } = await createJob({ type: SourceType.HTTP, params: { url: `${baseUrl}/endless-2.csv` } }, { batchSize: 1000 });
    const { run } = await runEvents.createRun(jobId, RunTrigger.MANUAL);
    await waitFor(async () => (await readRun(run.id)).metrics?.recordsProcessed, 'rows to be loaded');
    expect(await writers()).toBeGreaterThan(0); // the load's transaction, while it runs
    const stopped = await runEvents.apply({ runId: run.id, type: 'run.cancel', payload: { force: true } });
    expect(stopped.run.status).toBe(RunStatus.CANCELLED);
    const summary = await waitFor(
      () => db.orm.em.fork().findOne(LogLineEntity, { runId: run.id, message: { $like: 'cancelled after %' } }),
      'the executor to summarise the stopped attempt',
      2000,
    );
    expect(summary.level).toBe('WARN');
    // Loading stops: the load's open transaction (the only long one writing to this database) is gone.
    await waitFor(async () => (await writers()) === 0, 'the load transaction to end', 3000);
    expect((await db.pool!.query(`select to_regclass($1) as t`, [`public."${table}"`])).rows[0].t).toBeNull();
    expect((await readRun(run.id)).status).toBe(RunStatus.CANCELLED);
  });

  it('never runs more than LOCAL_CONCURRENCY runs at once', async () => {
    trickle('/slow.csv', { rowsPerChunk: 50, everyMs: 50, chunks: 10 });
    const runs: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { jobId } = await createJob({ type: SourceType.HTTP, params: { url: `${baseUrl}/slow.csv` } });
      runs.push((await runEvents.createRun(jobId, RunTrigger.MANUAL)).run.id);
    }
    let most = 0;
    const sampling = (async () => {
      for (;;) {
        const running = await db.orm.em.fork().count(RunEntity, { id: { $in: runs }, status: RunStatus.RUNNING });
        most = Math.max(most, running);
        const ended = await db.orm.em.fork().count(RunEntity, { id: { $in: runs }, status: RunStatus.SUCCEEDED });
        if (ended === runs.length) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      sampling,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('runs did not finish')), 20_000))),
    ]);
    clearTimeout(timer);
    expect(most).toBe(2);
    const all = await db.orm.em.fork().find(RunEntity, { id: { $in: runs } });
    // The third run waited for a free slot: it started only after one of the first two ended.
    const [a, b, c] = all.sort((x, y) => x.startedAt!.getTime() - y.startedAt!.getTime());
    expect(c.startedAt!.getTime()).toBeGreaterThanOrEqual(Math.min(a.finishedAt!.getTime(), b.finishedAt!.getTime()));
  });

  it('on stop(), hands its runs back to the queue without spending an attempt: three restarts, still attempt 1', async () => {
    trickle('/forever.csv', { rowsPerChunk: 100, everyMs: 20, chunks: Infinity });
    // A second gateway's executor, without a scheduler of its own, so the run's fate is visible.
    await workers.stop();
    const other = makeLocalExecutor({ ...core, live, config, logger, instanceId: 'executor-test-2', makeSink: () => makePgSink(db.pool!) });
    try {
      const { jobId, table } = await createJob({ type: SourceType.HTTP, params: { url: `${baseUrl}/forever.csv` } });
      const { run } = await runEvents.createRun(jobId, RunTrigger.MANUAL);
      for (let restart = 1; restart <= 3; restart++) {
        await other.start();
        await waitFor(async () => (await readRun(run.id)).status === RunStatus.RUNNING, `the run to start (${restart})`);
        // The claim commits RUNNING before the executor registers the run: wait for it to.
        await waitFor(async () => other.activeRunIds().includes(run.id), `the executor to hold the run (${restart})`);
        expect(other.activeRunIds()).toEqual([run.id]);
        await waitFor(
          async () => ((await core.runs.get(run.id))!.stages.find((s) => s.name === 'load')?.completedItems ?? 0) > 0,
          'rows to load',
        );
        await other.stop();
        const back = await readRun(run.id);
        expect(back).toMatchObject({
          status: RunStatus.QUEUED,
          attempt: 1,
          error: null,
          nextRetryAt: null,
          leaseOwner: null,
          deadLettered: false,
        });
        expect(back.attempts).toHaveLength(1);
        expect(back.progress).toBe(0);
        expect((await core.runs.get(run.id))!.stages).toEqual([]);
        expect(other.activeRunIds()).toEqual([]);
        // The load was rolled back: no rows, and no table this attempt created.
        const exists = await db.orm.em.fork().execute(`select to_regclass('public.${table}') as t`);
        expect(exists[0].t).toBeNull();
      }
      const lines = (await core.runs.logs(run.id, { first: 1000 })).edges.map((e) => e.node.message);
      expect(lines.filter((m) => m.includes('handed back to the queue (attempt 1 not spent)'))).toHaveLength(3);
    } finally {
      await other.stop();
      await workers.start();
    }
  });
});
