import { LogLineEntity, RunEntity, StageEntity } from '../../src/db/entities';
import { openPostgres, type Database } from '../../src/db/orm';
import { ErrorKind, ExecutionBackend, LogLevel, RunStatus, RunTrigger, SourceType, type RunView } from '../../src/domain';
import { AppError, ErrorCode } from '../../src/errors';
import { makeMemoryBus, type EventBus } from '../../src/events/bus';
import { Topic } from '../../src/events/topics';
import { JobsService } from '../../src/jobs/jobs.service';
import { makeLogger } from '../../src/logger';
import { RunEventsService } from '../../src/runs/run-events.service';
import { testCore } from '../helpers/core';
import { createTestDatabase } from '../helpers/db';
import { Disposables } from '../helpers/disposables';

const disposables = new Disposables();
let database: Database;
let bus: EventBus;
let runEvents: RunEventsService;
let jobs: JobsService;

beforeAll(async () => {
  const db = disposables.add(await createTestDatabase('runevents'), (d) => d.drop());
  database = disposables.add(await openPostgres(db.url, { poolSize: 6 }), (d) => d.close());
  bus = makeMemoryBus('test:');
  const logger = makeLogger('silent');
  ({ runEvents, jobs } = testCore(database, bus, { logger, config: { retryBaseDelayMs: 60_000, retryMaxDelayMs: 3_600_000 } }));
});
afterAll(() => disposables.disposeAll());

async function newRun(opts: { maxAttempts?: number; backend?: ExecutionBackend } = {}): Promise<RunView> {
  const job = await jobs.create({
    name: 'events',
    backend: opts.backend,
    maxAttempts: opts.maxAttempts ?? 3,
    source: { type: SourceType.LOCAL, params: { path: '/tmp/in.csv' } },
    destination: { schema: 'public', table: 'events_out' },
  });
  return (await runEvents.createRun(job.id, RunTrigger.MANUAL)).run;
}

const status = (runId: string, s: RunStatus, extra: { attempt?: number; kind?: ErrorKind } = {}) =>
  runEvents.apply({
    type: 'run.status',
    runId,
    attempt: extra.attempt,
    payload: {
      status: s,
      error: s === RunStatus.FAILED ? { message: 'boom', kind: extra.kind ?? ErrorKind.TRANSIENT, details: null } : undefined,
    },
  });

async function stored(runId: string): Promise<RunEntity> {
  return database.orm.em.fork().findOneOrFail(RunEntity, { id: runId });
}

describe('applying run events', () => {
  it('applies a stage increment exactly once per eventId, even when the same event arrives twice at once', async () => {
    const run = await newRun();
    const event = {
      eventId: `inc-${run.id}`,
      runId: run.id,
      type: 'stage.progress' as const,
      payload: { stage: 'load', totalItems: 100, increment: 5 },
    };
    const first = await runEvents.apply(event);
    const again = await runEvents.apply(event);
    expect([first.outcome, again.outcome]).toEqual(['applied', 'duplicate']);

    const concurrent = { ...event, eventId: `inc2-${run.id}`, payload: { stage: 'load', increment: 3 } };
    const outcomes = await Promise.all([runEvents.apply(concurrent), runEvents.apply(concurrent)]);
    expect(outcomes.map((o) => o.outcome).sort()).toEqual(['applied', 'duplicate']);

    const stage = await database.orm.em.fork().findOneOrFail(StageEntity, { runId: run.id, name: 'load' });
    expect(stage.completedItems).toBe(8);
  });

  it('ignores RUNNING after SUCCEEDED: the run stays SUCCEEDED', async () => {
    const run = await newRun();
    await status(run.id, RunStatus.RUNNING);
    await status(run.id, RunStatus.SUCCEEDED);
    const versionBefore = (await stored(run.id)).version;
    const late = await status(run.id, RunStatus.RUNNING);
    expect(late.outcome).toBe('ignored');
    expect(late.run.status).toBe(RunStatus.SUCCEEDED);
    const after = await stored(run.id);
    expect(after.status).toBe(RunStatus.SUCCEEDED);
    expect(after.version).toBe(versionBefore);
  });

  it('ignores QUEUED after RUNNING', async () => {
    const run = await newRun();
    await status(run.id, RunStatus.RUNNING);
    const late = await status(run.id, RunStatus.QUEUED);
    expect(late.outcome).toBe('ignored');
    expect((await stored(run.id)).status).toBe(RunStatus.RUNNING);
  });

  it('ignores events of an older attempt', async () => {
    const run = await newRun();
    await status(run.id, RunStatus.FAILED);
    await runEvents.apply({ type: 'run.retry', runId: run.id, payload: { manual: true } });
    const stale = await status(run.id, RunStatus.RUNNING, { attempt: 1 });
    expect(stale.outcome).toBe('ignored');
    const after = await stored(run.id);
    expect(after.attempt).toBe(2);
    expect(after.status).toBe(RunStatus.QUEUED);
    expect((await status(run.id, RunStatus.RUNNING, { attempt: 2 })).outcome).toBe('applied');
  });

  it('publishes only after the transaction commits, and nothing when it rolls back', async () => {
    const run = await newRun();
    const sub = await bus.subscribe(Topic.RUN, run.id);
    try {
      // A batch the database refuses (a log line of a run that exists, then a status that breaks a
      // constraint) rolls back whole: nothing of it is written or published.
      await expect(
        runEvents.applyBatch([
          { type: 'run.status', runId: run.id, payload: { status: RunStatus.RUNNING } },
          { type: 'run.log', runId: run.id, payload: { lines: [{ level: 'LOUD' as LogLevel, message: 'not a level' }] } },
        ]),
      ).rejects.toThrow(/check constraint|violates/);
      expect((await stored(run.id)).status).toBe(RunStatus.QUEUED);

      await status(run.id, RunStatus.RUNNING);
      let timer: NodeJS.Timeout | undefined;
      const message = await Promise.race([sub.next(), new Promise((r) => (timer = setTimeout(() => r('timeout'), 2000)))]);
      clearTimeout(timer);
      // The only message is the committed change: the rolled-back RUNNING was never published.
      expect(message).toEqual({ done: false, value: expect.objectContaining({ id: run.id, status: RunStatus.RUNNING, version: 2 }) });
      // When a subscriber hears of a change, it is already durable.
      expect((await stored(run.id)).status).toBe(RunStatus.RUNNING);
    } finally {
      sub.close();
    }
  });

  it('schedules a retry after a TRANSIENT failure on attempt 1 of 3', async () => {
    const run = await newRun({ maxAttempts: 3 });
    const failed = await status(run.id, RunStatus.FAILED);
    expect(failed.run.nextRetryAt).not.toBeNull();
    expect(new Date(failed.run.nextRetryAt!).getTime()).toBeGreaterThan(Date.now());
    expect(failed.run.deadLettered).toBe(false);
  });

  it('dead-letters a TRANSIENT failure on the last attempt, and a manual retry starts attempt N+1 from scratch', async () => {
    const run = await newRun({ maxAttempts: 2 });
    await status(run.id, RunStatus.FAILED);
    await runEvents.apply({ type: 'run.retry', runId: run.id, payload: { manual: true } });
    await runEvents.apply({ type: 'stage.progress', runId: run.id, payload: { stage: 'extract', totalItems: 10, increment: 4 } });
    const last = await status(run.id, RunStatus.FAILED, { attempt: 2 });
    expect(last.run).toMatchObject({ attempt: 2, deadLettered: true, nextRetryAt: null });
    expect(last.run.stages).toHaveLength(1);

    const retried = await runEvents.apply({ type: 'run.retry', runId: run.id, payload: { manual: true } });
    expect(retried.run).toMatchObject({ attempt: 3, status: RunStatus.QUEUED, deadLettered: false, error: null, stages: [] });
    expect(retried.run.attempts.map((a) => [a.attempt, a.status, a.error?.message ?? null])).toEqual([
      [1, RunStatus.FAILED, 'boom'],
      [2, RunStatus.FAILED, 'boom'],
      [3, RunStatus.QUEUED, null],
    ]);
    expect(await database.orm.em.fork().count(StageEntity, { runId: run.id })).toBe(0);
  });

  it('never retries a PERMANENT failure', async () => {
    const run = await newRun({ maxAttempts: 3 });
    const failed = await status(run.id, RunStatus.FAILED, { kind: ErrorKind.PERMANENT });
    expect(failed.run).toMatchObject({ nextRetryAt: null, deadLettered: false, attempt: 1 });
    const auto = await runEvents.apply({ type: 'run.retry', runId: run.id, payload: { manual: false } });
    expect(auto.outcome).toBe('ignored');
    expect((await stored(run.id)).attempt).toBe(1);
  });

  it('refuses a manual retry of a run that is not FAILED', async () => {
    const run = await newRun();
    await expect(runEvents.apply({ type: 'run.retry', runId: run.id, payload: { manual: true } })).rejects.toMatchObject({
      code: ErrorCode.CONFLICT,
    });
  });

  it('numbers log lines with strictly increasing seq across batches', async () => {
    const run = await newRun();
    const sub = await bus.subscribe(Topic.RUN_LOGS, run.id);
    const line = (message: string) => ({ level: LogLevel.INFO, message });
    await runEvents.apply({ type: 'run.log', runId: run.id, payload: { lines: [line('a'), line('b'), line('c')] } });
    await runEvents.apply({ type: 'run.log', runId: run.id, payload: { lines: [line('d'), line('e')] } });
    const rows = await database.orm.em.fork().find(LogLineEntity, { runId: run.id }, { orderBy: { seq: 'asc' } });
    expect(rows.map((r) => [r.seq, r.message])).toEqual([
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
      [4, 'd'],
      [5, 'e'],
    ]);
    const first = await sub.next();
    const second = await sub.next();
    sub.close();
    expect([...first.value!.lines, ...second.value!.lines].map((l) => l.seq)).toEqual(['1', '2', '3', '4', '5']);
  });

  it('prunes the logs and metric samples of runs finished before the retention period, and keeps the rest', async () => {
    const pruning = testCore(database, bus, { config: { logRetentionMs: 24 * 3600_000 } }).runEvents;
    const line = { level: LogLevel.INFO, message: 'x' };
    const metrics = { recordsProcessed: 1, recordsFailed: 0, throughputRps: 1, bytesProcessed: 1, activeWorkers: 1 };
    const make = async (finish: RunStatus | null) => {
      const run = await newRun();
      await status(run.id, RunStatus.RUNNING);
      await runEvents.apply({ type: 'run.log', runId: run.id, payload: { lines: [line, line] } });
      await runEvents.apply({ type: 'run.metrics', runId: run.id, payload: metrics });
      if (finish) await status(run.id, finish);
      return run.id;
    };
    const old = await make(RunStatus.SUCCEEDED);
    const recent = await make(RunStatus.SUCCEEDED);
    const running = await make(null);
    const em = database.orm.em.fork();
    await em.nativeUpdate(RunEntity, { id: { $in: [old, running] } }, { finishedAt: new Date(Date.now() - 2 * 24 * 3600_000) });
    await pruning.prune();
    const count = async (table: string, runId: string) =>
      Number((await em.execute(`select count(*)::int as n from ${table} where run_id = ?`, [runId]))[0].n);
    expect([await count('run_logs', old), await count('run_metric_samples', old)]).toEqual([0, 0]);
    expect([await count('run_logs', recent), await count('run_metric_samples', recent)]).toEqual([2, 1]);
    expect([await count('run_logs', running), await count('run_metric_samples', running)]).toEqual([2, 1]); // still active
    expect((await stored(old)).metrics).toMatchObject({ recordsProcessed: 1 }); // the run keeps its latest sample
  });

  it('makes a new run for an idempotency key older than 24 h', async () => {
    const first = await newRun();
    const again = await runEvents.createRun(first.jobId, RunTrigger.API, { idempotencyKey: 'nightly' });
    const later = testCore(database, bus, { now: () => new Date(Date.now() + 25 * 3600_000) }).runEvents;
    const next = await later.createRun(first.jobId, RunTrigger.API, { idempotencyKey: 'nightly' });
    expect(next.created).toBe(true);
    expect(next.run.id).not.toBe(again.run.id);
    expect((await later.createRun(first.jobId, RunTrigger.API, { idempotencyKey: 'nightly' })).run.id).toBe(next.run.id);
  });

  it('answers NOT_FOUND for an unknown run', async () => {
    const err = await runEvents
      .apply({ type: 'run.status', runId: '00000000-0000-4000-8000-000000000000', payload: { status: RunStatus.RUNNING } })
      .catch((e) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err.code).toBe(ErrorCode.NOT_FOUND);
  });
});
