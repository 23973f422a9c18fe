/**
 * `runEvents`, the one stream of a run page, over graphql-ws on real PostgreSQL and Redis (and once on
 * the embedded PGlite with the in-process bus): the stored state first, then every change, in one
 * strictly increasing cursor order across the run's status, stages, metrics and log lines; a client
 * that resumes with its last cursor misses nothing and gets nothing twice; two gateways applying one
 * run's events (and one whose publishes are lost) still make one order with nothing missing. Also
 * `Run.metricsHistory` and `Run.estimatedFinishAt` over the API.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import {
  CreateJobDocument,
  RunEventsDocument,
  RunLogsDocument,
  RunDocument,
  RunMetricsHistoryDocument,
  StartJobDocument,
  type RunEventsSubscription,
} from '../../client/generated/graphql';
import type { App } from '../../src/app';
import { createApp } from '../../src/app';
import { loadConfig } from '../../src/config';
import { LogLevel, RunStatus, RunTrigger } from '../../src/domain';
import { makeMemoryBus } from '../../src/events/bus';
import type { CoreEvent } from '../../src/runs/core-events';
import { httpUrl, startTestApp, wsUrl } from '../helpers/app';
import { testCore } from '../helpers/core';
import { createTestDatabase, uniqueRedisPrefix } from '../helpers/db';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';
import { gql, ok } from '../helpers/http';
import { TEST_SOURCE_ACCESS } from '../helpers/source-access';
import { createWsClient, type SubMessage, type TestSubscription, type TestWsClient } from '../helpers/ws-client';

type Ev = RunEventsSubscription['runEvents'];
type Sub = TestSubscription<RunEventsSubscription>;

const disposables = new Disposables();
afterAll(() => disposables.disposeAll());

/** Every message of `sub`, in order, up to and including the first that `done` accepts. */
async function collectUntil(sub: Sub, done: (e: Ev) => boolean, timeoutMs = 30_000, into: Ev[] = []): Promise<Ev[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m: SubMessage<RunEventsSubscription> = await sub.next(Math.max(1, deadline - Date.now()));
    expect(m.errors).toBeUndefined();
    into.push(m.data!.runEvents);
    if (done(into[into.length - 1])) return into;
  }
}

/**
 * Once the run has finished: the rest of its messages, up to the last cursor the store has handed
 * out (the stages a run's end settles come right after its RunStatusEvent).
 */
async function drain(sub: Sub, events: Ev[], app: App, runId: string): Promise<Ev[]> {
  for (;;) {
    const { eventSeq } = (await app.runs.atCursor(runId))!;
    if (events.length && Number(events[events.length - 1].cursor) >= eventSeq) return events;
    await collectUntil(sub, (e) => Number(e.cursor) >= eventSeq, 10_000, events);
  }
}

const finished = (e: Ev) => e.__typename === 'RunStatusEvent' && ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(e.run.status);
const cursors = (events: readonly Ev[]) => events.map((e) => Number(e.cursor));
const lineSeqs = (events: readonly Ev[]) =>
  events.flatMap((e) => (e.__typename === 'LogEvent' ? e.chunk.lines.map((l) => Number(l.seq)) : []));

function expectStrictlyIncreasing(events: readonly Ev[]) {
  const c = cursors(events);
  for (let i = 1; i < c.length; i++) if (!(c[i] > c[i - 1])) throw new Error(`cursor ${c[i]} after ${c[i - 1]} (message ${i})`);
}

/** Every stored log line of a run, in order, at `minLevel` or above. */
async function storedLines(url: string, runId: string, minLevel?: string): Promise<{ seq: number; level: string; message: string }[]> {
  const out: { seq: number; level: string; message: string }[] = [];
  let after: string | null = null;
  for (;;) {
    const page: any = ok(await gql(url, RunLogsDocument, { id: runId, first: 500, after, minLevel: minLevel as never })).run!.logs;
    out.push(...page.edges.map((e: any) => ({ seq: Number(e.node.seq), level: e.node.level, message: e.node.message })));
    if (!page.pageInfo.hasNextPage) return out;
    after = page.pageInfo.endCursor;
  }
}

/** The state messages (not log chunks) by cursor. */
const statesByCursor = (events: readonly Ev[]) => new Map(events.filter((e) => e.__typename !== 'LogEvent').map((e) => [e.cursor, e]));

describe('runEvents on PostgreSQL and Redis', () => {
  let app: App;
  let url: string;
  let ws: TestWsClient;
  let dir: string;
  let dbUrl: string;
  let prefix: string;

  beforeAll(async () => {
    const db = disposables.add(await createTestDatabase('runevstream'), (d) => d.drop());
    dbUrl = db.url;
    prefix = uniqueRedisPrefix('runevstream');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-run-events-'));
    disposables.defer(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.writeFileSync(path.join(dir, 'rows.csv'), 'id,name\n' + Array.from({ length: 3000 }, (_, i) => `${i},n${i}`).join('\n') + '\n');
    app = disposables.add(await startTestApp({ databaseUrl: db.url, redisPrefix: prefix }), (a) => a.stop());
    url = httpUrl(app);
    ws = disposables.add(await createWsClient(wsUrl(app)), (c) => c.dispose());
  }, 120_000);

  const startLocalRun = async (name: string, maxRowsPerSecond: number) => {
    const job = ok(
      await gql(url, CreateJobDocument, {
        input: {
          name,
          source: { type: 'LOCAL' as never, params: { path: path.join(dir, 'rows.csv') } },
          destination: { schema: 'run_events', table: name },
          processing: { format: 'CSV' as never, batchSize: 250, maxRowsPerSecond },
        },
      }),
    ).createJob;
    return ok(await gql(url, StartJobDocument, { id: job.id })).startJob;
  };

  /** A run no executor takes (its backend is KAFKA, with no worker): the test feeds it events itself. */
  const fedRun = async (name: string) => {
    const job = await app.jobs.create({
      name,
      backend: 'KAFKA' as never,
      source: { type: 'LOCAL' as never, params: { path: path.join(dir, 'rows.csv') } },
      destination: { schema: 'run_events', table: name },
    });
    const { run } = await app.runEvents.createRun(job.id, RunTrigger.MANUAL);
    await app.runEvents.apply({ runId: run.id, type: 'run.status', payload: { status: RunStatus.RUNNING } });
    return run;
  };
  const log = (runId: string, ...levels: LogLevel[]): CoreEvent => ({
    runId,
    type: 'run.log',
    payload: { lines: levels.map((level, i) => ({ level, message: `${level} line ${i} ${crypto.randomUUID()}` })) },
  });

  it('sends the stored state, then every change of a LOCAL run to SUCCEEDED, in one strictly increasing cursor order', async () => {
    const run = await startLocalRun('live', 1500);
    const reads = jest.spyOn(app.runs, 'atCursor');
    const sub = ws.subscribe(RunEventsDocument, { runId: run.id });
    const events = await collectUntil(sub, finished);
    // Live messages cost no read: the one read is the stored state's (drain below reads on its own).
    expect(reads.mock.calls.filter(([id]) => id === run.id)).toHaveLength(1);
    reads.mockRestore();
    await drain(sub, events, app, run.id);
    sub.dispose();
    expectStrictlyIncreasing(events);
    const kinds = new Set(events.map((e) => e.__typename));
    expect([...kinds].sort()).toEqual(['LogEvent', 'MetricsEvent', 'RunStatusEvent', 'StageEvent']);
    // The first message is the stored state: the run as it stood when the client came.
    const first = events.find((e) => e.__typename === 'RunStatusEvent')!;
    expect(first.__typename === 'RunStatusEvent' && ['QUEUED', 'RUNNING'].includes(first.run.status)).toBe(true);
    // Every stored line, once each, in order.
    expect(lineSeqs(events)).toEqual((await storedLines(url, run.id)).map((l) => l.seq));
    // Each stage's last message says it completed every row.
    const lastStage = new Map<string, any>();
    for (const e of events) if (e.__typename === 'StageEvent') lastStage.set(e.stage.name, e.stage);
    expect([...lastStage.keys()].sort()).toEqual(['extract', 'load', 'transform']);
    expect(lastStage.get('load')).toMatchObject({ status: 'COMPLETED', completedItems: 3000 });
    const end = events.filter((e) => e.__typename === 'RunStatusEvent').at(-1)!;
    expect(end.__typename === 'RunStatusEvent' && end.run).toMatchObject({ status: 'SUCCEEDED', progress: 1, estimatedFinishAt: null });
    const last = events[events.length - 1];

    // A client that comes afterwards gets the same final state as stored: the run, its stages, the
    // latest metrics and every line, the same messages (cursor and content) the live one got.
    const late = ws.subscribe(RunEventsDocument, { runId: run.id });
    const snapshot = await collectUntil(late, (e) => e.cursor === last.cursor, 10_000);
    late.dispose();
    expectStrictlyIncreasing(snapshot);
    expect(lineSeqs(snapshot)).toEqual(lineSeqs(events));
    expect(snapshot.filter((e) => e.__typename === 'LogEvent').every((e) => e.__typename === 'LogEvent' && e.chunk.replay)).toBe(true);
    const live = statesByCursor(events);
    for (const [cursor, e] of statesByCursor(snapshot)) expect(e).toEqual(live.get(cursor));
    expect(snapshot.filter((e) => e.__typename === 'StageEvent')).toHaveLength(3);
    expect(snapshot.filter((e) => e.__typename === 'MetricsEvent')).toHaveLength(1);
  }, 90_000);

  it('resumes from a cursor taken mid-run: nothing missed, nothing repeated, against a subscriber that never left', async () => {
    const run = await startLocalRun('resume', 1000);
    const steady = ws.subscribe(RunEventsDocument, { runId: run.id });
    const leaving = ws.subscribe(RunEventsDocument, { runId: run.id });
    const before = await collectUntil(leaving, (e) => e.__typename === 'StageEvent' && e.stage.completedItems > 0);
    leaving.dispose();
    const resumeAt = before[before.length - 1].cursor;
    // The run moves on while the client is away.
    const seenBySteady = await collectUntil(steady, (e) => e.__typename === 'StageEvent' && e.stage.completedItems >= 1000);
    const back = ws.subscribe(RunEventsDocument, { runId: run.id, after: resumeAt });
    const after = await drain(back, await collectUntil(back, finished), app, run.id);
    back.dispose();
    const all = await drain(steady, await collectUntil(steady, finished, 30_000, seenBySteady), app, run.id);
    steady.dispose();

    expect(cursors(after).every((c) => c > Number(resumeAt))).toBe(true);
    const resumed = [...before, ...after];
    expectStrictlyIncreasing(resumed);
    expectStrictlyIncreasing(all);
    // Every line once, in order, as the subscriber that stayed got them and as they are stored.
    expect(lineSeqs(resumed)).toEqual(lineSeqs(all));
    expect(lineSeqs(all)).toEqual((await storedLines(url, run.id)).map((l) => l.seq));
    // What the resumed client got is what the steady one got at that cursor; a state superseded
    // while it was away comes once, as it stood then.
    const steadyStates = statesByCursor(all);
    for (const [cursor, e] of statesByCursor(resumed)) expect(e).toEqual(steadyStates.get(cursor));
    expect(after[after.length - 1]).toEqual(all[all.length - 1]);
  }, 90_000);

  it('leaves out lines below minLevel, and its cursors resume where the client was', async () => {
    const run = await fedRun('levels');
    const warn = ws.subscribe(RunEventsDocument, { runId: run.id, minLevel: 'WARN' as never });
    const every = ws.subscribe(RunEventsDocument, { runId: run.id });
    const snapshotDone = (e: Ev) => e.__typename === 'RunStatusEvent' && e.run.status === 'RUNNING';
    await collectUntil(warn, snapshotDone);
    await collectUntil(every, snapshotDone);

    await app.runEvents.applyBatch([log(run.id, LogLevel.DEBUG, LogLevel.WARN, LogLevel.INFO, LogLevel.ERROR, LogLevel.DEBUG)]);
    const [chunk] = await collectUntil(warn, () => true);
    const [all] = await collectUntil(every, () => true);
    expect(chunk.__typename === 'LogEvent' && chunk.chunk.lines.map((l) => l.level)).toEqual(['WARN', 'ERROR']);
    expect(all.__typename === 'LogEvent' && all.chunk.lines).toHaveLength(5);
    // The chunk stands for its whole message, the lines filtered out at its end included.
    expect(chunk.cursor).toBe(all.cursor);

    // Lines that are all below minLevel send nothing; the next change comes with its own cursor.
    await app.runEvents.applyBatch([log(run.id, LogLevel.DEBUG, LogLevel.INFO)]);
    await app.runEvents.apply({ runId: run.id, type: 'stage.progress', payload: { stage: 'load', totalItems: 10, completedItems: 1 } });
    const next = await collectUntil(warn, () => true);
    expect(next.map((e) => e.__typename)).toEqual(['RunStatusEvent']);
    const [, , stage] = await collectUntil(every, (e) => e.__typename === 'StageEvent');
    expect(stage.__typename).toBe('StageEvent');
    expect((await collectUntil(warn, () => true))[0]).toEqual(stage);
    warn.dispose();
    every.dispose();

    // Resuming from the last cursor the WARN client had: only what came since, at WARN and above.
    await app.runEvents.applyBatch([log(run.id, LogLevel.INFO, LogLevel.ERROR)]);
    const back = ws.subscribe(RunEventsDocument, { runId: run.id, after: stage.cursor, minLevel: 'WARN' as never });
    const [again] = await collectUntil(back, () => true);
    back.dispose();
    expect(again.__typename === 'LogEvent' && again.chunk.lines.map((l) => l.level)).toEqual(['ERROR']);
    expect(again.__typename === 'LogEvent' && again.chunk.replay).toBe(true);
    expect(Number(again.cursor)).toBeGreaterThan(Number(stage.cursor));
  }, 60_000);

  it('keeps one strictly increasing order with nothing missing while two gateways, and one whose publishes are lost, apply a run', async () => {
    const second = disposables.add(await startTestApp({ databaseUrl: dbUrl, redisPrefix: prefix, workers: false }), (a) => a.stop());
    // A writer on the same database whose bus reaches nobody: every change it makes is a gap to the subscriber.
    const silent = testCore(app.db, makeMemoryBus('nobody:'));
    const run = await fedRun('replicas');
    const client = disposables.add(await createWsClient(wsUrl(second)), (c) => c.dispose());
    const reads = jest.spyOn(second.runs, 'atCursor');
    const sub = client.subscribe(RunEventsDocument, { runId: run.id });
    await collectUntil(sub, (e) => e.__typename === 'RunStatusEvent' && e.run.status === 'RUNNING');

    const writers = [app.runEvents, second.runEvents, silent.runEvents];
    const rounds = 30;
    await Promise.all(
      Array.from({ length: rounds }, (_, i) =>
        writers[i % 3].applyBatch([
          log(run.id, LogLevel.INFO, LogLevel.WARN),
          {
            runId: run.id,
            eventId: `inc-${run.id}-${i}`,
            type: 'stage.progress',
            payload: { stage: `s${i % 2}`, totalItems: 1000, increment: 1 },
          },
          {
            runId: run.id,
            type: 'run.metrics',
            payload: { recordsProcessed: i, recordsFailed: 0, throughputRps: 1, bytesProcessed: 0, activeWorkers: 1 },
          },
        ]),
      ),
    );
    await silent.runEvents.applyBatch([log(run.id, LogLevel.ERROR)]);
    await second.runEvents.apply({ runId: run.id, type: 'run.status', payload: { status: RunStatus.SUCCEEDED } });
    const events = await collectUntil(sub, finished);
    // The lost publishes were read from the store (a gap before a later message).
    expect(reads.mock.calls.length).toBeGreaterThan(1);
    reads.mockRestore();
    await drain(sub, events, app, run.id);
    sub.dispose();

    expectStrictlyIncreasing(events);
    expect(lineSeqs(events)).toEqual((await storedLines(url, run.id)).map((l) => l.seq));
    expect(lineSeqs(events)).toHaveLength(2 * rounds + 1);
    const stages = new Map<string, any>();
    for (const e of events) if (e.__typename === 'StageEvent') stages.set(e.stage.name, e.stage);
    expect(stages.get('s0')).toMatchObject({ status: 'COMPLETED', completedItems: rounds / 2 });
    expect(stages.get('s1')).toMatchObject({ status: 'COMPLETED', completedItems: rounds / 2 });
    // The last message of each kind is what the store holds now.
    const stored = ok(await gql(url, RunDocument, { id: run.id })).run!;
    const lastMetrics = events.filter((e) => e.__typename === 'MetricsEvent').at(-1)!;
    expect(lastMetrics.__typename === 'MetricsEvent' && lastMetrics.metrics).toEqual(stored.metrics);
    const lastRun = events.filter((e) => e.__typename === 'RunStatusEvent').at(-1)!;
    expect(lastRun.__typename === 'RunStatusEvent' && lastRun.run.stages).toEqual(stored.stages);
    expect(ok(await gql(url, RunMetricsHistoryDocument, { id: run.id, first: 100 })).run!.metricsHistory).toHaveLength(rounds);
  }, 90_000);

  it('sheds log lines for a client that falls behind, says how many, and still sends the state as it stands', async () => {
    const run = await fedRun('slow');
    const stream = await app.live.runEvents({ runId: run.id }, { highWaterMark: 2 });
    const events: any[] = [];
    for (;;) {
      const { value } = await stream.next();
      events.push(value);
      if (value.kind === 'RunStatusEvent') break;
    }
    // The client reads nothing while 10 messages of lines and a stage change come.
    for (let i = 0; i < 10; i++) await app.runEvents.applyBatch([log(run.id, LogLevel.INFO, LogLevel.INFO)]);
    await app.runEvents.apply({ runId: run.id, type: 'stage.progress', payload: { stage: 'load', totalItems: 10, completedItems: 5 } });
    await app.runEvents.applyBatch([log(run.id, LogLevel.INFO)]);
    for (;;) {
      const { value } = await stream.next();
      events.push(value);
      if (value.kind === 'LogEvent' && value.chunk.lines.length === 1) break;
    }
    await stream.return(undefined);
    const c = events.map((e) => Number(e.cursor));
    for (let i = 1; i < c.length; i++) expect(c[i]).toBeGreaterThan(c[i - 1]);
    const logs = events.filter((e) => e.kind === 'LogEvent');
    const received = logs.reduce((n, e) => n + e.chunk.lines.length, 0);
    const dropped = logs.reduce((n, e) => n + e.chunk.droppedLines, 0);
    expect(dropped).toBeGreaterThan(0);
    expect(received + dropped).toBe(21);
    const stage = events.filter((e) => e.kind === 'StageEvent').at(-1);
    expect(stage.stage).toMatchObject({ name: 'load', completedItems: 5 });
  });

  it('answers NOT_FOUND for an unknown run and BAD_USER_INPUT naming `after` for a cursor that is not one', async () => {
    const run = await fedRun('errors');
    const cases: [Record<string, unknown>, string, string | undefined][] = [
      [{ runId: crypto.randomUUID() }, 'NOT_FOUND', undefined],
      [{ runId: 'not-a-run' }, 'NOT_FOUND', undefined],
      [{ runId: run.id, after: 'abc' }, 'BAD_USER_INPUT', 'after'],
      [{ runId: run.id, after: '-1' }, 'BAD_USER_INPUT', 'after'],
      [{ runId: run.id, after: '999999' }, 'BAD_USER_INPUT', 'after'],
    ];
    for (const [variables, code, field] of cases) {
      const m = await ws.subscribe(RunEventsDocument, variables as never).next();
      expect(m.errors?.[0]?.extensions).toMatchObject({ code, ...(field ? { field } : {}) });
    }
  });

  it('serves metricsHistory oldest first from `since`, batched over a list, and estimatedFinishAt while a run runs', async () => {
    const run = await fedRun('history');
    const other = await fedRun('history_other');
    const t0 = Date.parse('2026-12-01T10:00:00.000Z');
    const sample = (runId: string, i: number): CoreEvent => ({
      runId,
      type: 'run.metrics',
      occurredAt: new Date(t0 + i * 1000).toISOString(),
      payload: { recordsProcessed: i * 10, recordsFailed: 0, throughputRps: 10, bytesProcessed: i, activeWorkers: 1 },
    });
    await app.runEvents.applyBatch([0, 1, 2, 3, 4].flatMap((i) => [sample(run.id, i), sample(other.id, i)]));
    const history = async (variables: Record<string, unknown>) => gql(url, RunMetricsHistoryDocument, { id: run.id, ...variables });
    const all = ok(await history({})).run!.metricsHistory;
    expect(all.map((m) => m.recordsProcessed)).toEqual([0, 10, 20, 30, 40]);
    expect(ok(await history({ first: 2 })).run!.metricsHistory.map((m) => m.recordsProcessed)).toEqual([0, 10]);
    const since = new Date(t0 + 2000).toISOString();
    expect(ok(await history({ since })).run!.metricsHistory.map((m) => m.timestamp)).toEqual([
      since,
      new Date(t0 + 3000).toISOString(),
      new Date(t0 + 4000).toISOString(),
    ]);
    for (const first of [0, -1, 5001]) {
      // One field per sample, so even 5001 of them stay within the complexity budget and reach the check.
      const res = await gql(url, 'query($id: ID!, $first: Int) { run(id: $id) { metricsHistory(first: $first) { timestamp } } }', {
        id: run.id,
        first,
      });
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
    }
    // Over a list, one statement for every run (a DataLoader): each run gets its own samples.
    const list = ok(await gql(url, `{ runs(first: 50) { edges { node { id metricsHistory(first: 3) { recordsProcessed } } } } }`)) as any;
    const byId = new Map(list.runs.edges.map((e: any) => [e.node.id, e.node.metricsHistory.map((m: any) => m.recordsProcessed)]));
    expect(byId.get(run.id)).toEqual([0, 10, 20]);
    expect(byId.get(other.id)).toEqual([0, 10, 20]);

    // No stage yet: unknown. A stage moving: an estimate after its last update. Finished: null.
    expect(ok(await history({})).run!.estimatedFinishAt).toBeNull();
    await app.runEvents.apply({
      runId: run.id,
      type: 'stage.progress',
      payload: { stage: 'load', totalItems: 1000, completedItems: 0, status: 'RUNNING' as never },
    });
    const moved = Date.now();
    await waitFor(() => Date.now() > moved + 20, 'the clock to move on');
    await app.runEvents.apply({ runId: run.id, type: 'stage.progress', payload: { stage: 'load', completedItems: 100 } });
    const running = ok(await history({})).run!;
    expect(running.status).toBe('RUNNING');
    expect(Date.parse(running.estimatedFinishAt!)).toBeGreaterThan(Date.now());
    await app.runEvents.apply({ runId: run.id, type: 'run.status', payload: { status: RunStatus.SUCCEEDED } });
    expect(ok(await history({})).run!.estimatedFinishAt).toBeNull();
  });
});

describe('runEvents on the embedded default (PGlite, in-process bus)', () => {
  let app: App;
  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-run-events-pglite-'));
    disposables.defer(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.writeFileSync(path.join(dir, 'rows.csv'), 'id,name\n' + Array.from({ length: 500 }, (_, i) => `${i},n${i}`).join('\n') + '\n');
    app = await createApp(
      loadConfig({}, { port: 0, host: '127.0.0.1', dataDir: dir, logLevel: 'silent', seedDemo: false, ...TEST_SOURCE_ACCESS }),
    );
    disposables.defer(() => app.stop());
  }, 60_000);

  it('streams a run to SUCCEEDED in cursor order, and a late client gets the same state', async () => {
    const url = httpUrl(app);
    const job = ok(
      await gql(url, CreateJobDocument, {
        input: {
          name: 'embedded',
          source: { type: 'LOCAL' as never, params: { path: path.join(dir, 'rows.csv') } },
          destination: { schema: 'run_events', table: 'embedded' },
          processing: { format: 'CSV' as never, batchSize: 100, maxRowsPerSecond: 1000 },
        },
      }),
    ).createJob;
    const run = ok(await gql(url, StartJobDocument, { id: job.id })).startJob;
    const ws = disposables.add(await createWsClient(wsUrl(app)), (c) => c.dispose());
    const sub = ws.subscribe(RunEventsDocument, { runId: run.id });
    const events = await drain(sub, await collectUntil(sub, finished, 60_000), app, run.id);
    sub.dispose();
    expectStrictlyIncreasing(events);
    const end = events.filter((e) => e.__typename === 'RunStatusEvent').at(-1)!;
    expect(end.__typename === 'RunStatusEvent' && end.run.status).toBe('SUCCEEDED');
    const last = events[events.length - 1];
    expect(lineSeqs(events)).toEqual((await storedLines(url, run.id)).map((l) => l.seq));
    const late = ws.subscribe(RunEventsDocument, { runId: run.id, after: events[0].cursor });
    const rest = await collectUntil(late, (e) => e.cursor === last.cursor, 10_000);
    late.dispose();
    expect(lineSeqs([events[0], ...rest])).toEqual(lineSeqs(events));
  }, 90_000);
});
