import { RunEntity } from '../../src/db/entities';
import type { Backend } from '../../src/backends/backend';
import { defaultBackends } from '../../src/core';
import { makeLocalBackend } from '../../src/backends/local/local.backend';
import { loadConfig } from '../../src/config';
import { TEST_SOURCE_ACCESS } from '../helpers/source-access';
import { openPostgres, type Database } from '../../src/db/orm';
import { ErrorKind, ExecutionBackend, LogLevel, RunStatus, SourceType, type RunView } from '../../src/domain';
import { ErrorCode } from '../../src/errors';
import { makeMemoryBus } from '../../src/events/bus';
import { JobsService } from '../../src/jobs/jobs.service';
import { makeLogger } from '../../src/logger';
import { RunEventsService } from '../../src/runs/run-events.service';
import { DEAD_LETTERED_SQL, logLinesQuery, runsPageQuery, stuckRunsQuery } from '../../src/runs/run-queries';
import { RunsService } from '../../src/runs/runs.service';
import { testCore } from '../helpers/core';
import { createTestDatabase } from '../helpers/db';
import { Disposables } from '../helpers/disposables';

const disposables = new Disposables();
const logger = makeLogger('silent');
const config = loadConfig({ GRAPHQL_MAX_PAGE_SIZE: '200' }, TEST_SOURCE_ACCESS);

interface World {
  database: Database;
  runEvents: RunEventsService;
  jobs: JobsService;
  runs: RunsService;
  cancels: RunView[];
}

/** A database of its own with the services on top; the LOCAL backend records cancel requests. */
async function makeWorld(label: string, opts: { now?: () => Date; submit?: Backend['submit'] } = {}): Promise<World> {
  const db = disposables.add(await createTestDatabase(label), (d) => d.drop());
  const database = disposables.add(await openPostgres(db.url, { poolSize: 6 }), (d) => d.close());
  const cancels: RunView[] = [];
  const local: Backend = {
    ...makeLocalBackend(),
    cancel: async (run) => void cancels.push(run),
    ...(opts.submit ? { submit: opts.submit } : {}),
  };
  const [, ...others] = defaultBackends();
  const core = testCore(database, makeMemoryBus(), {
    logger,
    config: { ...config, retryBaseDelayMs: 1000, retryMaxDelayMs: 60_000 },
    now: opts.now,
    backends: [local, ...others],
  });
  return { database, runEvents: core.runEvents, cancels, jobs: core.jobs, runs: core.runs };
}

const jobInput = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  source: { type: SourceType.LOCAL, params: { path: '/data/in.csv' } },
  destination: { schema: 'public', table: 'out' },
  ...extra,
});

afterAll(() => disposables.disposeAll());

describe('RunsService', () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld('runs');
  });
  const setStatus = (runId: string, status: RunStatus, kind = ErrorKind.PERMANENT) =>
    w.runEvents.apply({
      type: 'run.status',
      runId,
      payload: { status, error: status === RunStatus.FAILED ? { message: 'x', kind, details: null } : undefined },
    });

  describe('start', () => {
    it('returns the same run for the same idempotency key and numbers new runs 1, 2, 3', async () => {
      const job = await w.jobs.create(jobInput('idempotent'));
      const a = await w.runs.start(job.id, { idempotencyKey: 'deploy-42' });
      const again = await w.runs.start(job.id, { idempotencyKey: 'deploy-42' });
      const b = await w.runs.start(job.id, { idempotencyKey: 'deploy-43' });
      const c = await w.runs.start(job.id);
      expect(again.id).toBe(a.id);
      expect([a.number, b.number, c.number]).toEqual([1, 2, 3]);
      expect(new Set([a.id, b.id, c.id]).size).toBe(3);
      expect(a).toMatchObject({ status: RunStatus.QUEUED, trigger: 'MANUAL', attempt: 1, maxAttempts: 3 });
      expect((await w.jobs.get(job.id))!.latestRunId).toBe(c.id);
    });

    it('loads several runs at once, in the order asked, null for unknown ids', async () => {
      const job = await w.jobs.create(jobInput('many'));
      const a = await w.runs.start(job.id);
      const b = await w.runs.start(job.id);
      const got = await w.runs.getMany([b.id, 'not-a-uuid', a.id, '00000000-0000-4000-8000-000000000000', b.id]);
      expect(got.map((r) => r?.id ?? null)).toEqual([b.id, null, a.id, null, b.id]);
      expect(got[0]).toMatchObject({ number: 2, stages: [] });
    });

    it('rejects an empty or over-long idempotency key', async () => {
      const job = await w.jobs.create(jobInput('keys'));
      await expect(w.runs.start(job.id, { idempotencyKey: '' })).rejects.toMatchObject({
        code: ErrorCode.BAD_USER_INPUT,
        field: 'idempotencyKey',
      });
      await expect(w.runs.start(job.id, { idempotencyKey: 'k'.repeat(201) })).rejects.toMatchObject({ field: 'idempotencyKey' });
    });

    it('answers UNAVAILABLE for a SPARK job without SPARK_MASTER_URL and creates no run', async () => {
      const job = await w.jobs.create(jobInput('spark job', { backend: ExecutionBackend.SPARK }));
      const err = await w.runs.start(job.id).catch((e) => e);
      expect(err).toMatchObject({ code: ErrorCode.UNAVAILABLE, message: expect.stringContaining('SPARK_MASTER_URL is not set') });
      expect((await w.runs.list({ jobId: job.id }, {})).totalCount).toBe(0);
      expect((await w.jobs.get(job.id))!.latestRunId).toBeNull();
    });

    it('answers NOT_FOUND for an unknown job', async () => {
      await expect(w.runs.start('00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
      await expect(w.runs.start('nope')).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
    });
  });

  describe('stop', () => {
    it('cancels a QUEUED run at once', async () => {
      const job = await w.jobs.create(jobInput('stop queued'));
      const run = await w.runs.start(job.id);
      const stopped = await w.runs.stop(run.id, false);
      expect(stopped.status).toBe(RunStatus.CANCELLED);
      expect((await w.runs.get(run.id))!.status).toBe(RunStatus.CANCELLED);
    });

    it('moves a RUNNING run to CANCELLING and asks its backend to cancel it', async () => {
      const job = await w.jobs.create(jobInput('stop running'));
      const run = await w.runs.start(job.id);
      await setStatus(run.id, RunStatus.RUNNING);
      const stopped = await w.runs.stop(run.id, false);
      expect(stopped.status).toBe(RunStatus.CANCELLING);
      expect(w.cancels.map((r) => r.id)).toContain(run.id);
    });

    it('with force, cancels a RUNNING run at once (and still tells the backend)', async () => {
      const job = await w.jobs.create(jobInput('force stop'));
      const run = await w.runs.start(job.id);
      await setStatus(run.id, RunStatus.RUNNING);
      const stopped = await w.runs.stop(run.id, true);
      expect(stopped.status).toBe(RunStatus.CANCELLED);
      expect(w.cancels.filter((r) => r.id === run.id)).toHaveLength(1);
    });

    it('refuses to stop a finished run with CONFLICT', async () => {
      const job = await w.jobs.create(jobInput('finished'));
      const run = await w.runs.start(job.id);
      await setStatus(run.id, RunStatus.SUCCEEDED);
      await expect(w.runs.stop(run.id, false)).rejects.toMatchObject({
        code: ErrorCode.CONFLICT,
        message: `run ${run.id} already SUCCEEDED`,
      });
      await expect(w.runs.stop('00000000-0000-4000-8000-000000000000', false)).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
    });
  });

  describe('retry', () => {
    it('refuses to retry a SUCCEEDED run with CONFLICT', async () => {
      const job = await w.jobs.create(jobInput('no retry'));
      const run = await w.runs.start(job.id);
      await setStatus(run.id, RunStatus.SUCCEEDED);
      await expect(w.runs.retry(run.id)).rejects.toMatchObject({ code: ErrorCode.CONFLICT });
    });

    it('starts the next attempt of a FAILED run', async () => {
      const job = await w.jobs.create(jobInput('retry me'));
      const run = await w.runs.start(job.id);
      await setStatus(run.id, RunStatus.FAILED);
      const retried = await w.runs.retry(run.id);
      expect(retried).toMatchObject({ id: run.id, attempt: 2, status: RunStatus.QUEUED, error: null });
      expect(retried.attempts).toHaveLength(2);
    });
  });

  describe('logs', () => {
    let runId: string;
    beforeAll(async () => {
      const job = await w.jobs.create(jobInput('chatty'));
      runId = (await w.runs.start(job.id)).id;
      const levels = [LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARN, LogLevel.ERROR];
      const lines = Array.from({ length: 250 }, (_, i) => ({
        level: levels[i % 4],
        message: i % 50 === 0 ? `found the NEEDLE ${i}` : `line ${i}`,
      }));
      await w.runEvents.apply({ type: 'run.log', runId, payload: { lines: lines.slice(0, 120) } });
      await w.runEvents.apply({ type: 'run.log', runId, payload: { lines: lines.slice(120) } });
    });

    it('pages through lines in seq order with the seq as cursor', async () => {
      const first = await w.runs.logs(runId, {});
      expect(first.edges).toHaveLength(100);
      expect(first.pageInfo).toEqual({ hasNextPage: true, endCursor: '100' });
      const rest = await w.runs.logs(runId, { after: '100', first: 200 });
      expect(rest.edges.map((e) => e.cursor)).toEqual(Array.from({ length: 150 }, (_, i) => String(101 + i)));
      expect(rest.pageInfo).toEqual({ hasNextPage: false, endCursor: '250' });
    });

    it('filters by minimum level and by text, case-insensitively', async () => {
      const errors = await w.runs.logs(runId, { minLevel: LogLevel.ERROR, first: 200 });
      expect(errors.edges).toHaveLength(62);
      expect(errors.edges.every((e) => e.node.level === LogLevel.ERROR)).toBe(true);
      const warnUp = await w.runs.logs(runId, { minLevel: LogLevel.WARN, first: 10, after: '200' });
      expect(warnUp.edges.map((e) => e.node.seq)).toEqual(['203', '204', '207', '208', '211', '212', '215', '216', '219', '220']);
      const needles = await w.runs.logs(runId, { contains: 'needle' });
      expect(needles.edges.map((e) => e.node.message)).toEqual([0, 50, 100, 150, 200].map((i) => `found the NEEDLE ${i}`));
    });

    it('rejects a cursor that is not a seq, and an unknown run', async () => {
      for (const after of ['abc', '-1', '1.5', '']) {
        await expect(w.runs.logs(runId, { after })).rejects.toMatchObject({ code: ErrorCode.BAD_USER_INPUT, field: 'after' });
      }
      await expect(w.runs.logs(runId, { first: 201 })).rejects.toMatchObject({ field: 'first' });
      await expect(w.runs.logs('00000000-0000-4000-8000-000000000000', {})).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
    });
  });

  describe('reads', () => {
    it('lists runs by job and status, newest first, with stages', async () => {
      const job = await w.jobs.create(jobInput('listed'));
      const made = [];
      for (let i = 0; i < 5; i++) made.push(await w.runs.start(job.id));
      await setStatus(made[1].id, RunStatus.RUNNING);
      await w.runEvents.apply({ type: 'stage.progress', runId: made[1].id, payload: { stage: 'extract', totalItems: 10, increment: 5 } });
      const page1 = await w.runs.list({ jobId: job.id }, { first: 3 });
      const page2 = await w.runs.list({ jobId: job.id }, { first: 3, after: page1.pageInfo.endCursor });
      expect([...page1.edges, ...page2.edges].map((e) => e.node.number)).toEqual([5, 4, 3, 2, 1]);
      expect(page1.totalCount).toBe(5);
      expect(page2.pageInfo.hasNextPage).toBe(false);
      const running = await w.runs.list({ jobId: job.id, status: RunStatus.RUNNING }, {});
      expect(running.edges.map((e) => e.node.id)).toEqual([made[1].id]);
      expect(running.edges[0].node.stages).toMatchObject([{ name: 'extract', completedItems: 5, progress: 0.5 }]);
      expect(await w.runs.stages(made[1].id)).toMatchObject([{ name: 'extract', totalItems: 10 }]);
      expect((await w.runs.list({ jobId: 'not-a-uuid' }, {})).totalCount).toBe(0);
    });

    it('returns the latest metrics of a run, null before any', async () => {
      const job = await w.jobs.create(jobInput('measured'));
      const run = await w.runs.start(job.id);
      expect(await w.runs.latestMetrics(run.id)).toBeNull();
      await setStatus(run.id, RunStatus.RUNNING);
      for (const n of [10, 20]) {
        await w.runEvents.apply({
          type: 'run.metrics',
          runId: run.id,
          payload: { recordsProcessed: n, recordsFailed: 0, throughputRps: 5, bytesProcessed: 100, activeWorkers: 1 },
        });
      }
      expect(await w.runs.latestMetrics(run.id)).toMatchObject({ runId: run.id, recordsProcessed: 20 });
      expect(await w.runs.get('not-a-uuid')).toBeNull();
    });
  });
});

describe('RunsService when the backend refuses a run', () => {
  it('fails the run TRANSIENT, naming the backend, so it is retried', async () => {
    const w = await makeWorld('refused', {
      submit: async () => {
        throw new Error('executor queue is full');
      },
    });
    const job = await w.jobs.create(jobInput('refused'));
    const run = await w.runs.start(job.id);
    expect(run).toMatchObject({ status: RunStatus.FAILED, error: { kind: ErrorKind.TRANSIENT } });
    expect(run.error!.message).toMatch(/LOCAL backend.*executor queue is full/);
    expect(run.nextRetryAt).not.toBeNull();
  });
});

describe('RunsService.stats', () => {
  const silentFor = 10 * 60_000;
  let w: World;
  let old: World;

  beforeAll(async () => {
    w = await makeWorld('stats');
    // Events applied through this service are stamped ten minutes ago: their runs look silent.
    old = {
      ...w,
      runEvents: testCore(w.database, makeMemoryBus(), { config, now: () => new Date(Date.now() - silentFor) }).runEvents,
    };
  });

  const startRun = async (name: string, maxAttempts = 3) => w.runs.start((await w.jobs.create(jobInput(name, { maxAttempts }))).id);
  const status = (ev: RunEventsService, runId: string, s: RunStatus, kind = ErrorKind.TRANSIENT) =>
    ev.apply({
      type: 'run.status',
      runId,
      payload: { status: s, error: s === RunStatus.FAILED ? { message: 'x', kind, details: null } : undefined },
    });

  it('counts runs by status, success rate, running, dead letters and stuck runs', async () => {
    expect(await w.runs.stats()).toEqual({
      runsByStatus: Object.values(RunStatus).map((s) => ({ status: s, count: 0 })),
      successRate: null,
      running: 0,
      deadLettered: 0,
      stalled: 0,
      stuckRuns: [],
    });
    for (const name of ['ok1', 'ok2']) await status(w.runEvents, (await startRun(name)).id, RunStatus.SUCCEEDED);
    await status(w.runEvents, (await startRun('dead', 1)).id, RunStatus.FAILED);
    await status(w.runEvents, (await startRun('broken')).id, RunStatus.FAILED, ErrorKind.PERMANENT);
    await w.runs.stop((await startRun('cancelled')).id, false);
    await startRun('waiting');
    const silent = await startRun('silent');
    await status(old.runEvents, silent.id, RunStatus.RUNNING);
    const busy = await startRun('busy');
    await status(w.runEvents, busy.id, RunStatus.RUNNING);
    // An executor holds the busy run's lease (a LOCAL run RUNNING with no live lease is stuck).
    await w.database.orm.em
      .fork()
      .nativeUpdate(
        RunEntity,
        { id: busy.id },
        { leaseOwner: 'gw-1', leaseExpiresAt: new Date(Date.now() + 60_000), aliveUntil: new Date(Date.now() + 60_000) },
      );

    const stats = await w.runs.stats();
    expect(Object.fromEntries(stats.runsByStatus.map((s) => [s.status, s.count]))).toEqual({
      PENDING: 0,
      QUEUED: 1,
      RUNNING: 2,
      SUCCEEDED: 2,
      FAILED: 2,
      CANCELLING: 0,
      CANCELLED: 1,
    });
    expect(stats.successRate).toBe(0.5);
    expect(stats.running).toBe(2);
    expect(stats.deadLettered).toBe(1);
    expect(stats.stuckRuns.map((r) => r.id)).toEqual([silent.id]);
  });

  it('answers the monitoring and page queries from their indexes', async () => {
    const em = w.database.orm.em.fork();
    // A few thousand runs, mostly finished, as in a real deployment; then fresh statistics.
    await em.execute(`
      insert into runs (id, job_id, number, attempt, max_attempts, trigger, status, backend, attempts, dead_lettered, created_at, updated_at)
      select gen_random_uuid(), ('00000000-0000-4000-8000-' || lpad((i % 40)::text, 12, '0'))::uuid, i, 1, 3, 'MANUAL',
             case when i % 100 = 0 then 'RUNNING' when i % 50 = 0 then 'FAILED' else 'SUCCEEDED' end, 'LOCAL', '[]',
             i % 100 = 50, now() - i * interval '1 minute', now() - i * interval '1 minute'
        from generate_series(1, 5000) as i`);
    const logRun = '00000000-0000-4000-8000-000000000007';
    await em.execute(`
      insert into run_logs (run_id, seq, attempt, timestamp, level, message)
      select ('00000000-0000-4000-8000-' || lpad((i % 20)::text, 12, '0'))::uuid, i, 1, now(), 'INFO', 'line ' || i
        from generate_series(1, 5000) as i`);
    await em.execute('analyze runs');
    await em.execute('analyze run_logs');

    const plan = async (q: { sql: string; params: unknown[] }) => {
      const rows = await w.database.sql.query<{ 'QUERY PLAN': string }>(`explain ${q.sql}`, q.params);
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    };
    const after = { createdAt: new Date(Date.now() - 100 * 60_000), id: '00000000-0000-4000-8000-000000000000' };
    expect(await plan(runsPageQuery({}, after, 21))).toContain('runs_created_idx');
    expect(await plan(runsPageQuery({ jobId: '00000000-0000-4000-8000-000000000007' }, after, 21))).toContain('runs_job_created_idx');
    expect(await plan(runsPageQuery({ status: RunStatus.FAILED }, null, 21))).toContain('runs_status_created_idx');
    expect(await plan({ sql: DEAD_LETTERED_SQL, params: [] })).toContain('runs_status_created_idx');
    expect(await plan(stuckRunsQuery(new Date(), 100))).toContain('runs_alive_until_idx');
    expect(await plan(logLinesQuery(logRun, { afterSeq: 100, limit: 101, minLevel: LogLevel.WARN }))).toContain('run_logs_pkey');
  });
});
