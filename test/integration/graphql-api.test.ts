/**
 * The GraphQL edge over real HTTP and WebSocket, on real services: PostgreSQL (a database of its
 * own), Redis (a prefix of its own), the jobs and runs services. Runs are driven with
 * `runEvents.apply`, exactly as backends and Kafka consumers drive them (workers are off, so no
 * executor takes the runs).
 */
import 'reflect-metadata';
import crypto from 'node:crypto';
import Redis from 'ioredis';
import type { App } from '../../src/app';
import { buildJobwireSchema } from '../../src/graphql/schema';
import { schemaParts } from '../../resolvers';
import { makeContextFactory } from '../../src/graphql/context';
import { makeAuthenticator } from '../../src/auth/authenticator';
import { StatsFeed } from '../../src/live/stats-feed';
import { LogLevel, RunStatus, type LogLineView } from '../../src/domain';
import { makeMemoryBus } from '../../src/events/bus';
import { Topic } from '../../src/events/topics';
import { makeLogger } from '../../src/logger';
import type { LogInput } from '../../src/runs/run-event';
import { startServer } from '../../src/server/server';
import { runLogsStream, type LogChunkView } from '../../src/live/log-stream';
import {
  ApplyComputePresetDocument,
  ComputePresetsDocument,
  CreateJobDocument,
  DeleteJobDocument,
  JobDocument,
  JobStatsDocument,
  JobStatsUpdatedDocument,
  JobsDocument,
  RetryRunDocument,
  RunDocument,
  RunLogsDocument,
  RunLogsLiveDocument,
  RunMetricsDocument,
  RunUpdatedDocument,
  RunsChangedDocument,
  RunsDocument,
  SourceTypesDocument,
  StageProgressDocument,
  StartJobDocument,
  StopRunDocument,
  TestSourceConnectionDocument,
  UpdateComputeDocument,
  type CreateJobInput,
} from '../../client/generated/graphql';
import { startTestApp } from '../helpers/app';
import { testCore } from '../helpers/core';
import { REDIS_URL, createTestDatabase, uniqueRedisPrefix } from '../helpers/db';
import { Disposables } from '../helpers/disposables';
import { gql, ok, onlyError } from '../helpers/http';
import { createWsClient, type SubMessage, type TestWsClient } from '../helpers/ws-client';
import { waitFor } from '../helpers/deferred';

const disposables = new Disposables();
let app: App;
let url: string;
let wsUrl: string;
let ws: TestWsClient;
let redis: Redis;

/** How many Redis subscribers a bus channel has: how a test knows a subscription is in place. */
async function busSubscribers(topic: Topic, id?: string): Promise<number> {
  return Number(((await redis.pubsub('NUMSUB', app.bus.channel(topic, id))) as [string, number])[1]);
}

beforeAll(async () => {
  const db = await createTestDatabase('graphql');
  disposables.defer(() => db.drop());
  app = await startTestApp({ databaseUrl: db.url, redisPrefix: uniqueRedisPrefix('graphql'), workers: false });
  disposables.defer(() => app.stop());
  url = `${app.url}/graphql`;
  wsUrl = `${app.url.replace(/^http/, 'ws')}/graphql`;
  ws = disposables.add(await createWsClient(wsUrl), (c) => c.dispose());
  redis = disposables.add(new Redis(REDIS_URL), (r) => r.disconnect());
});
afterAll(() => disposables.disposeAll());

const localJob = (over: Partial<CreateJobInput> = {}): CreateJobInput => ({
  name: `orders-${crypto.randomBytes(3).toString('hex')}`,
  source: { type: 'LOCAL', params: { path: '/data/in/orders.csv' } },
  destination: { schema: 'public', table: 'orders' },
  ...over,
});

async function createJob(over: Partial<CreateJobInput> = {}) {
  return ok(await gql(url, CreateJobDocument, { input: localJob(over) })).createJob;
}

/** A LOCAL job with one run (QUEUED: no executor runs in this file). */
async function startRun() {
  const job = await createJob();
  const run = ok(await gql(url, StartJobDocument, { id: job.id })).startJob;
  return { job, run };
}

const lines = (n: number, from = 0, level = LogLevel.INFO): LogInput[] =>
  Array.from({ length: n }, (_, i) => ({ level, message: `line ${from + i + 1}` }));
const applyLogs = (runId: string, input: LogInput[]) => app.runEvents.apply({ type: 'run.log', runId, payload: { lines: input } });
/** Open subscriptions of a root field, as the gateway's /metrics counts them. */
async function liveSubscriptions(field: string): Promise<number> {
  const text = await (await fetch(`${app.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`jobwire_websocket_subscriptions{field="${field}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}
const setStatus = (runId: string, status: RunStatus) => app.runEvents.apply({ type: 'run.status', runId, payload: { status } });

type ChunkMessage = SubMessage<{ runLogs: { lines: { seq: string }[]; replay: boolean; droppedLines: number; cursor: string | null } }>;
const seqsOf = (msgs: ChunkMessage[]) => msgs.flatMap((m) => m.data!.runLogs.lines.map((l) => Number(l.seq)));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('jobs over HTTP', () => {
  it('creates a job with the contract defaults and never returns a secret', async () => {
    const job = await createJob({
      source: {
        type: 'HTTP',
        params: { url: 'https://api.example.com/orders', headers: { Authorization: 'Bearer s3cr3t', 'X-Trace': 'abc' } },
      },
      schedule: { cron: '0 3 * * *', startAt: '2030-01-01T00:00:00+02:00' },
    });
    expect(job).toMatchObject({
      backend: 'LOCAL',
      tags: [],
      maxAttempts: 3,
      status: 'CREATED',
      processing: { mode: 'BATCH', format: 'AUTO', batchSize: 10000, checkpointEnabled: false },
      source: {
        type: 'HTTP',
        schemaInference: true,
        params: { url: 'https://api.example.com/orders', headers: { Authorization: '***', 'X-Trace': '***' } },
      },
      schedule: { cron: '0 3 * * *', timezone: 'UTC', retryDelaySeconds: 300, enabled: true, startAt: '2029-12-31T22:00:00.000Z' },
    });
    expect(job.schedule!.nextRunAt).toBe('2030-01-01T03:00:00.000Z');

    const pg = await createJob({
      backend: 'SPARK' as never,
      source: { type: 'POSTGRES', params: { host: 'db', database: 'shop', user: 'etl', password: 'hunter2', table: 'orders' } },
    });
    expect(pg.source.params).toEqual({ host: 'db', database: 'shop', user: 'etl', password: '***', table: 'orders' });
    const read = ok(await gql(url, JobDocument, { id: pg.id })).job!;
    expect(JSON.stringify(read)).not.toContain('hunter2');
    expect(read.latestRun).toBeNull();
    expect(read.runs).toEqual({ totalCount: 0, edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
  });

  it.each<{ what: string; over: Partial<CreateJobInput>; field: string }>([
    { what: 'an empty name', over: { name: ' ' }, field: 'input.name' },
    { what: 'more minimum than maximum workers', over: { compute: { minWorkers: 5, maxWorkers: 2 } }, field: 'input.compute.minWorkers' },
    { what: 'a bad cron expression', over: { schedule: { cron: 'every day' } }, field: 'input.schedule.cron' },
    { what: 'an unknown time zone', over: { schedule: { cron: '0 3 * * *', timezone: 'Mars/Olympus' } }, field: 'input.schedule.timezone' },
    { what: 'a zero batch size', over: { processing: { batchSize: 0 } }, field: 'input.processing.batchSize' },
    { what: 'a negative batch size', over: { processing: { batchSize: -5 } }, field: 'input.processing.batchSize' },
    {
      what: 'a start date that is not a date-time',
      over: { schedule: { cron: '0 3 * * *', startAt: 'tomorrow' } },
      field: 'input.schedule.startAt',
    },
    { what: 'zero attempts', over: { maxAttempts: 0 }, field: 'input.maxAttempts' },
    {
      what: 'a source its backend cannot execute',
      over: { source: { type: 'S3' as never, params: { bucket: 'b' } } },
      field: 'input.source.type',
    },
    { what: 'a zero stall timeout', over: { stallTimeoutSeconds: 0 }, field: 'input.stallTimeoutSeconds' },
    { what: 'params that are not an object', over: { source: { type: 'LOCAL', params: 'path=/x' } }, field: 'input.source.params' },
    {
      what: 'params missing what the source needs',
      over: { source: { type: 'HTTP', params: { headers: {} } } },
      field: 'input.source.params.url',
    },
  ])('refuses $what with BAD_USER_INPUT naming $field', async ({ over, field }) => {
    const res = await gql(url, CreateJobDocument, { input: localJob(over) });
    expect(res.data ?? null).toBeNull();
    expect(onlyError(res).extensions).toEqual({ code: 'BAD_USER_INPUT', field });
  });

  it('refuses an unknown enum value given in variables with BAD_USER_INPUT naming the field', async () => {
    const res = await gql(url, CreateJobDocument, { input: { ...localJob(), backend: 'HADOOP' as never } });
    expect(res.status).toBe(400);
    const error = onlyError(res);
    expect(error.message).toContain('"HADOOP"');
    expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.backend' });
  });

  it('refuses a missing required input field, naming it', async () => {
    const { name: _name, ...noName } = localJob();
    const res = await gql(url, CreateJobDocument, { input: noName as CreateJobInput });
    expect(onlyError(res).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.name' });
  });

  it('answers NOT_FOUND for unknown ids in mutations and null in queries', async () => {
    const unknown = crypto.randomUUID();
    expect(onlyError(await gql(url, StartJobDocument, { id: unknown })).extensions).toEqual({ code: 'NOT_FOUND' });
    expect(onlyError(await gql(url, StopRunDocument, { id: unknown })).extensions).toEqual({ code: 'NOT_FOUND' });
    expect(onlyError(await gql(url, StartJobDocument, { id: 'not-a-uuid' })).extensions).toEqual({ code: 'NOT_FOUND' });
    expect(ok(await gql(url, JobDocument, { id: unknown })).job).toBeNull();
    expect(ok(await gql(url, RunDocument, { id: unknown })).run).toBeNull();
  });

  it('refuses to start a SPARK job on a gateway without Spark with UNAVAILABLE', async () => {
    const job = await createJob({ backend: 'SPARK' });
    const error = onlyError(await gql(url, StartJobDocument, { id: job.id }));
    expect(error.extensions).toEqual({ code: 'UNAVAILABLE' });
    expect(error.message).toContain('SPARK_MASTER_URL');
  });

  it('starts a run and resolves its job, stages and logs; lists runs with their jobs in one batch', async () => {
    const { job, run } = await startRun();
    expect(run).toMatchObject({
      number: 1,
      attempt: 1,
      status: 'QUEUED',
      trigger: 'MANUAL',
      backend: 'LOCAL',
      job: { id: job.id, name: job.name },
    });
    await applyLogs(run.id, lines(3));
    const logs = ok(await gql(url, RunLogsDocument, { id: run.id, first: 2 })).run!.logs;
    expect(logs.edges.map((e) => e.node.message)).toEqual(['line 1', 'line 2']);
    expect(logs.pageInfo).toEqual({ hasNextPage: true, endCursor: '2' });
    const page = ok(await gql(url, RunsDocument, { filter: { jobId: job.id } }));
    expect(page.runs.edges.map((e) => e.node.job.id)).toEqual([job.id]);
    const again = ok(await gql(url, JobDocument, { id: job.id })).job!;
    expect(again.latestRun).toMatchObject({ id: run.id, status: 'QUEUED' });
    expect(again.status).toBe('RUNNING');
  });

  it('changes compute, retries a failed run, deletes a job, lists and counts', async () => {
    const { job, run } = await startRun();
    const busy = onlyError(await gql(url, UpdateComputeDocument, { jobId: job.id, input: { maxWorkers: 8 } }));
    expect(busy.extensions).toEqual({ code: 'CONFLICT' }); // a run is active
    await setStatus(run.id, RunStatus.FAILED);
    const compute = ok(
      await gql(url, UpdateComputeDocument, {
        jobId: job.id,
        input: { minWorkers: 2, maxWorkers: 8, sparkConf: { 'spark.sql.shuffle.partitions': 64 } },
      }),
    );
    expect(compute.updateCompute.compute).toMatchObject({
      minWorkers: 2,
      maxWorkers: 8,
      sparkConf: { 'spark.sql.shuffle.partitions': 64 },
    });
    const preset = ok(await gql(url, ApplyComputePresetDocument, { jobId: job.id, preset: 'large' })).applyComputePreset;
    expect(preset.compute.maxWorkers).toBeGreaterThan(0);
    expect(onlyError(await gql(url, ApplyComputePresetDocument, { jobId: job.id, preset: 'gigantic' })).extensions?.code).toBe(
      'BAD_USER_INPUT',
    );

    const retried = ok(await gql(url, RetryRunDocument, { id: run.id })).retryRun;
    expect(retried).toMatchObject({ id: run.id, attempt: 2, status: 'QUEUED', error: null });
    expect(retried.attempts.map((a) => [a.attempt, a.status])).toEqual([
      [1, 'FAILED'],
      [2, 'QUEUED'],
    ]);
    expect(onlyError(await gql(url, DeleteJobDocument, { id: job.id })).extensions).toEqual({ code: 'CONFLICT' });
    await setStatus(run.id, RunStatus.CANCELLED);

    const listed = ok(await gql(url, JobsDocument, { filter: { search: job.name }, first: 5 })).jobs;
    expect(listed.edges.map((e) => e.node.id)).toEqual([job.id]);
    expect(ok(await gql(url, JobStatsDocument)).jobStats.runsByStatus).toContainEqual({ status: 'CANCELLED', count: expect.any(Number) });
    expect(ok(await gql(url, DeleteJobDocument, { id: job.id })).deleteJob).toBe(true);
    expect(ok(await gql(url, JobDocument, { id: job.id })).job).toBeNull();
  });

  it('tests a source connection without failing the request', async () => {
    const result = ok(
      await gql(url, TestSourceConnectionDocument, { input: { type: 'LOCAL', params: { path: '/nonexistent/orders-*.csv' } } }),
    );
    expect(result.testSourceConnection).toMatchObject({ ok: false, message: expect.any(String) });
  });

  it('serves presets and source types', async () => {
    expect(ok(await gql(url, ComputePresetsDocument)).computePresets.length).toBeGreaterThan(0);
    expect(
      ok(await gql(url, SourceTypesDocument))
        .sourceTypes.map((s) => s.type)
        .sort(),
    ).toEqual(['HTTP', 'KAFKA', 'LOCAL', 'POSTGRES', 'S3', 'SFTP']);
  });

  it('echoes the caller request id, and answers health and readiness', async () => {
    const res = await gql(url, '{ jobs { totalCount } }', undefined, { 'x-request-id': 'trace-123' });
    expect(res.headers.get('x-request-id')).toBe('trace-123');
    const generated = (await gql(url, '{ jobs { totalCount } }')).headers.get('x-request-id');
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    expect(await (await fetch(`${app.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${app.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', checks: { database: 'ok', redis: 'ok' } });
  });

  it('serves GraphiQL at /graphiql, and sends a browser opening /graphql there', async () => {
    const page = await fetch(`${app.url}/graphiql`);
    // 503 with a how-to-build message while the bundle is missing: the mount is what is checked here.
    expect([200, 503]).toContain(page.status);
    expect(await page.text()).toMatch(/graphiql/i);
    const browser = await fetch(url, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect([browser.status, browser.headers.get('location')]).toEqual([302, '/graphiql']);
  });

  it('masks an unexpected failure with the request id, leaking nothing of it', async () => {
    await app.db.orm.em.fork().getConnection().execute('alter table jobs rename to jobs_hidden');
    try {
      const res = await gql(url, '{ jobs { totalCount } }', undefined, { 'x-request-id': 'req-boom-1' });
      const error = onlyError(res);
      expect(error.message).toBe('Internal server error (request req-boom-1)');
      expect(error.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR', requestId: 'req-boom-1' });
      expect(JSON.stringify(res.errors)).not.toMatch(/jobs_hidden|relation|select|stack|\.ts:/i);
    } finally {
      await app.db.orm.em.fork().getConnection().execute('alter table jobs_hidden rename to jobs');
    }
  });
});

describe('limits', () => {
  // depth 12 (runs edges node job runs edges node job runs edges node id), with pages of 1 to stay under the complexity limit
  const deep =
    '{ runs(first: 1) { edges { node { job { runs(first: 1) { edges { node { job { runs(first: 1) { edges { node { id } } } } } } } } } } } }';
  const wide = '{ jobs(first: 100) { edges { node { runs(first: 100) { edges { node { id status } } } } } } }';

  it('rejects the same too-deep query on HTTP and on the WebSocket', async () => {
    const http = await gql(url, deep);
    expect(http.status).toBe(400);
    expect(onlyError(http)).toMatchObject({
      message: 'Query depth 12 exceeds the limit of 10',
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
    const sub = ws.subscribe(deep);
    const msg = await sub.next();
    expect(msg.errors).toEqual([
      expect.objectContaining({ message: 'Query depth 12 exceeds the limit of 10', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }),
    ]);
  });

  it('rejects the same too-complex query on HTTP and on the WebSocket', async () => {
    const http = await gql(url, wide);
    expect(http.status).toBe(400);
    const error = onlyError(http);
    expect(error.message).toMatch(/^Query complexity \d+ exceeds the limit of 20000$/);
    const msg = await ws.subscribe(wide).next();
    expect(msg.errors?.[0].message).toBe(error.message);
    expect(msg.errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('refuses an oversized query before parsing it, on both transports', async () => {
    const huge = `{ jobs { totalCount } } # ${'x'.repeat(20_000)}`;
    const http = await gql(url, huge);
    expect(http.status).toBe(413);
    expect(onlyError(http).extensions?.code).toBe('BAD_REQUEST');
    expect((await ws.subscribe(huge).next()).errors?.[0].extensions?.code).toBe('BAD_REQUEST');
  });

  it('refuses a page larger than the maximum page size', async () => {
    // 1001 rows of one field stay under the complexity limit: the page size rule is what refuses it.
    const res = await gql(url, 'query($n: Int) { runs(first: $n) { totalCount } }', { n: 1001 });
    expect(onlyError(res).extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'first' });
  });
});

describe('runUpdated', () => {
  it('sends the current run first, then every change once, in order', async () => {
    const { run } = await startRun();
    const sub = ws.subscribe(RunUpdatedDocument, { runId: run.id });
    const first = await sub.next();
    expect(first.data!.runUpdated).toMatchObject({ id: run.id, status: 'QUEUED', progress: 0 });
    await setStatus(run.id, RunStatus.RUNNING);
    await app.runEvents.apply({ type: 'stage.progress', runId: run.id, payload: { stage: 'load', totalItems: 10, completedItems: 5 } });
    await setStatus(run.id, RunStatus.SUCCEEDED);
    const updates = [await sub.next(), await sub.next(), await sub.next()].map((m) => m.data!.runUpdated);
    expect(updates.map((r) => r.status)).toEqual(['RUNNING', 'RUNNING', 'SUCCEEDED']);
    expect(updates[1].stages).toEqual([expect.objectContaining({ name: 'load', completedItems: 5, totalItems: 10, progress: 0.5 })]);
    expect(updates[2]).toMatchObject({ progress: 1, finishedAt: expect.any(String) });
    // An event that changes nothing sends nothing.
    await setStatus(run.id, RunStatus.RUNNING);
    await expect(sub.next(300)).rejects.toThrow(/no matching message/);
    sub.dispose();
  });

  it("follows a job's runs: its latest run first, then changes of any of its runs", async () => {
    const { job, run } = await startRun();
    const sub = ws.subscribe(RunUpdatedDocument, { jobId: job.id });
    expect((await sub.next()).data!.runUpdated).toMatchObject({ id: run.id, number: 1 });
    await setStatus(run.id, RunStatus.CANCELLED);
    expect((await sub.next()).data!.runUpdated).toMatchObject({ id: run.id, status: 'CANCELLED' });
    const second = ok(await gql(url, StartJobDocument, { id: job.id })).startJob;
    expect((await sub.next()).data!.runUpdated).toMatchObject({ id: second.id, number: 2, status: 'QUEUED' });
    sub.dispose();
  });

  it('needs exactly one of runId and jobId, and a run that exists', async () => {
    const neither = await ws.subscribe(RunUpdatedDocument, {}).next();
    expect(neither.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'runId' });
    const both = await ws.subscribe(RunUpdatedDocument, { runId: crypto.randomUUID(), jobId: crypto.randomUUID() }).next();
    expect(both.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'jobId' });
    const unknown = await ws.subscribe(RunUpdatedDocument, { runId: crypto.randomUUID() }).next();
    expect(unknown.errors?.[0].extensions).toEqual({ code: 'NOT_FOUND' });
  });

  it('lets go of the bus channel when the client vanishes without closing', async () => {
    const { run } = await startRun();
    const client = await createWsClient(wsUrl);
    await client.subscribe(RunUpdatedDocument, { runId: run.id }).next();
    expect(await busSubscribers(Topic.RUN, run.id)).toBe(1);
    client.closeAbruptly();
    await waitFor(async () => (await busSubscribers(Topic.RUN, run.id)) === 0, 'the Redis subscription to be dropped', 5000);
    await client.dispose();
  });
});

describe('other live streams', () => {
  it('runsChanged streams status changes of matching runs only', async () => {
    const { job, run } = await startRun();
    const other = await startRun();
    const sub = ws.subscribe(RunsChangedDocument, { filter: { jobId: job.id, status: RunStatus.RUNNING } });
    // No snapshot here, so no first message: wait until the server has subscribed to the bus.
    await waitFor(async () => (await busSubscribers(Topic.JOB_RUN_STATUS, job.id)) === 1, 'runsChanged to subscribe');
    await setStatus(other.run.id, RunStatus.RUNNING);
    await setStatus(run.id, RunStatus.RUNNING);
    await setStatus(run.id, RunStatus.FAILED);
    expect((await sub.next()).data!.runsChanged).toMatchObject({ id: run.id, status: 'RUNNING', job: { id: job.id } });
    await expect(sub.next(300)).rejects.toThrow(/no matching message/);
    sub.dispose();
  });

  it('runs and runsChanged filter by the job’s tag and by backend', async () => {
    const tag = `team-${crypto.randomBytes(3).toString('hex')}`;
    const tagged = await createJob({ tags: [tag, 'nightly'] });
    const untagged = await createJob({ tags: ['nightly'] });
    const before = await liveSubscriptions('runsChanged');
    const sub = ws.subscribe(RunsChangedDocument, { filter: { tag, backend: 'LOCAL' } });
    const kafkaOnly = ws.subscribe(RunsChangedDocument, { filter: { tag, backend: 'KAFKA' } });
    // Both streams are in place once the gateway counts them (it does after their bus subscribe).
    await waitFor(async () => (await liveSubscriptions('runsChanged')) === before + 2, 'both runsChanged streams to subscribe');
    const other = ok(await gql(url, StartJobDocument, { id: untagged.id })).startJob;
    const mine = ok(await gql(url, StartJobDocument, { id: tagged.id })).startJob;
    await setStatus(other.id, RunStatus.RUNNING);
    await setStatus(mine.id, RunStatus.RUNNING);
    // The first message a tag filter lets through is the tagged job's run, whatever came first.
    const first = (await sub.next()).data!.runsChanged;
    expect(first).toMatchObject({ id: mine.id, job: { id: tagged.id } });
    await expect(kafkaOnly.next(300)).rejects.toThrow(/no matching message/);
    sub.dispose();
    kafkaOnly.dispose();

    const page = ok(await gql(url, RunsDocument, { filter: { tag } })).runs;
    expect(page.edges.map((e) => e.node.id)).toEqual([mine.id]);
    expect(page.totalCount).toBe(1);
    expect(ok(await gql(url, RunsDocument, { filter: { tag, backend: 'KAFKA' } })).runs.totalCount).toBe(0);
    expect(ok(await gql(url, RunsDocument, { filter: { tag, backend: 'LOCAL', status: RunStatus.RUNNING } })).runs.totalCount).toBe(1);
  });

  it('runsChanged does not wake a live runs page for progress, only for status changes', async () => {
    const { job, run } = await startRun();
    const sub = ws.subscribe(RunsChangedDocument, { filter: { jobId: job.id } });
    await waitFor(async () => (await busSubscribers(Topic.JOB_RUN_STATUS, job.id)) === 1, 'runsChanged to subscribe');
    await setStatus(run.id, RunStatus.RUNNING);
    await app.runEvents.apply({ type: 'stage.progress', runId: run.id, payload: { stage: 'load', totalItems: 10, increment: 3 } });
    await setStatus(run.id, RunStatus.SUCCEEDED);
    expect((await sub.next()).data!.runsChanged).toMatchObject({ id: run.id, status: 'RUNNING' });
    expect((await sub.next()).data!.runsChanged).toMatchObject({ id: run.id, status: 'SUCCEEDED' });
    await expect(sub.next(300)).rejects.toThrow(/no matching message/);
    sub.dispose();
  });

  it('runMetrics sends the latest sample first, then new ones', async () => {
    const { run } = await startRun();
    await setStatus(run.id, RunStatus.RUNNING);
    const metrics = (n: number) => ({
      recordsProcessed: n,
      recordsFailed: 0,
      throughputRps: 10,
      bytesProcessed: n * 100,
      activeWorkers: 1,
    });
    await app.runEvents.apply({ type: 'run.metrics', runId: run.id, payload: metrics(100) });
    const sub = ws.subscribe(RunMetricsDocument, { runId: run.id });
    expect((await sub.next()).data!.runMetrics).toMatchObject({ recordsProcessed: 100, cpuUtilization: null });
    await app.runEvents.apply({ type: 'run.metrics', runId: run.id, payload: metrics(200) });
    expect((await sub.next()).data!.runMetrics).toMatchObject({ recordsProcessed: 200 });
    sub.dispose();
  });

  it('stageProgress sends every stage as it stands, then changes', async () => {
    const { run } = await startRun();
    await setStatus(run.id, RunStatus.RUNNING);
    await app.runEvents.apply({
      type: 'stage.progress',
      runId: run.id,
      payload: { stage: 'extract', totalItems: 4, completedItems: 4, status: 'COMPLETED' as never },
    });
    await app.runEvents.apply({ type: 'stage.progress', runId: run.id, payload: { stage: 'load', totalItems: 10, completedItems: 1 } });
    const sub = ws.subscribe(StageProgressDocument, { runId: run.id });
    const firsts = [await sub.next(), await sub.next()].map((m) => m.data!.stageProgress);
    expect(firsts.map((s) => [s.name, s.status, s.completedItems])).toEqual([
      ['extract', 'COMPLETED', 4],
      ['load', 'RUNNING', 1],
    ]);
    await app.runEvents.apply({ type: 'stage.progress', runId: run.id, payload: { stage: 'load', increment: 2 } });
    expect((await sub.next()).data!.stageProgress).toMatchObject({ name: 'load', completedItems: 3, progress: 0.3 });
    sub.dispose();
  });

  it('jobStatsUpdated sends the current stats, then fresh ones after status changes', async () => {
    const { run } = await startRun();
    const sub = ws.subscribe(JobStatsUpdatedDocument);
    const first = (await sub.next()).data!.jobStatsUpdated;
    const running = first.running;
    await setStatus(run.id, RunStatus.RUNNING);
    const next = await sub.waitFor((m) => m.data!.jobStatsUpdated.running === running + 1, 3000);
    expect(next.data!.jobStatsUpdated.runsByStatus).toContainEqual({ status: 'RUNNING', count: running + 1 });
    sub.dispose();
  });
});

describe('the shared stats feed', () => {
  it('recomputes once per burst of status changes, whatever the number of subscribers', async () => {
    const bus = makeMemoryBus(uniqueRedisPrefix('mem'));
    let computations = 0;
    const runs = Object.create(app.runs) as typeof app.runs;
    runs.stats = () => {
      computations++;
      return app.runs.stats();
    };
    const feed = new StatsFeed({ runs, bus, logger: makeLogger('silent'), debounceMs: 100 });
    const seen: number[] = [];
    const detachA = await feed.attach(() => seen.push(1));
    const detachB = await feed.attach(() => seen.push(2));
    const { run } = await startRun();
    const view = (await app.runs.get(run.id))!;
    for (let i = 0; i < 10; i++) await bus.publish(Topic.RUN_STATUS, undefined, view);
    await waitFor(() => seen.length === 2, 'both subscribers to get the stats', 2000);
    await new Promise((r) => setTimeout(r, 250));
    expect(computations).toBe(1);
    expect(seen.sort()).toEqual([1, 2]);
    detachA();
    detachB();
    await feed.close();
  });
});

describe('runLogs', () => {
  /** Collects chunks until the highest seq received reaches `last`. */
  async function collectUntil(sub: ReturnType<TestWsClient['subscribe']>, last: number, timeoutMs = 10_000): Promise<ChunkMessage[]> {
    const got: ChunkMessage[] = [];
    const end = Date.now() + timeoutMs;
    while (!seqsOf(got).includes(last)) {
      const m = (await sub.next(Math.max(1, end - Date.now()))) as ChunkMessage;
      if (m.errors) throw new Error(JSON.stringify(m.errors));
      got.push(m);
    }
    return got;
  }

  it('replays stored lines after the cursor, then streams live ones exactly once', async () => {
    const { run } = await startRun();
    await applyLogs(run.id, lines(1200));
    const sub = ws.subscribe(RunLogsLiveDocument, { runId: run.id, after: '500' });
    const replay = await collectUntil(sub, 1200);
    expect(seqsOf(replay)).toEqual(range(501, 1200));
    expect(replay.every((m) => m.data!.runLogs.replay && m.data!.runLogs.droppedLines === 0)).toBe(true);
    expect(replay.map((m) => m.data!.runLogs.cursor)).toEqual(replay.map((m) => m.data!.runLogs.lines.at(-1)!.seq));

    await applyLogs(run.id, lines(50, 1200));
    await applyLogs(run.id, lines(1, 1250)); // a sentinel: everything before it has arrived by then
    const live = await collectUntil(sub, 1251);
    expect(seqsOf(live)).toEqual(range(1201, 1251));
    expect(live.every((m) => !m.data!.runLogs.replay)).toBe(true);
    expect(live[0].data!.runLogs.lines[0]).toMatchObject({ seq: '1201', runId: run.id, attempt: 1, level: 'INFO', message: 'line 1201' });
    sub.dispose();
  });

  it('has no gap and no duplicate when lines are written while it replays', async () => {
    const { run } = await startRun();
    await applyLogs(run.id, lines(300));
    // Four writers at once (their publishes may overtake each other), racing the subscribe and the replay.
    const writers = Promise.all(
      range(0, 3).map(async (w) => {
        for (let i = 0; i < 5; i++) await applyLogs(run.id, lines(10, 300 + w * 50 + i * 10));
      }),
    );
    const sub = ws.subscribe(RunLogsLiveDocument, { runId: run.id });
    await writers;
    await applyLogs(run.id, lines(1, 500));
    const got = await collectUntil(sub, 501);
    expect(seqsOf(got)).toEqual(range(1, 501));
    const flags = got.map((m) => m.data!.runLogs.replay);
    expect(flags).toEqual([...flags].sort((a, b) => Number(b) - Number(a))); // replay chunks, then live ones
    await expect(sub.next(300)).rejects.toThrow(/no matching message/);
    sub.dispose();
  });

  it('filters by level and text alike in the replay and live', async () => {
    const { run } = await startRun();
    await applyLogs(run.id, [
      { level: LogLevel.DEBUG, message: 'connecting' },
      { level: LogLevel.WARN, message: 'Slow batch' },
      { level: LogLevel.ERROR, message: 'bad row' },
      { level: LogLevel.WARN, message: 'slow again' },
    ]);
    const sub = ws.subscribe(RunLogsLiveDocument, { runId: run.id, minLevel: 'WARN', contains: 'SLOW' });
    expect(seqsOf([(await sub.next()) as ChunkMessage])).toEqual([2, 4]);
    await applyLogs(run.id, [
      { level: LogLevel.INFO, message: 'slow info' },
      { level: LogLevel.ERROR, message: 'too slow' },
    ]);
    expect(seqsOf([(await sub.next()) as ChunkMessage])).toEqual([6]);
    sub.dispose();
  });

  describe('the stream itself (in-process bus, to control delivery)', () => {
    const logger = makeLogger('silent');

    it('reports lines shed for a slow client in droppedLines, with the cursor to fetch them from', async () => {
      const bus = makeMemoryBus(uniqueRedisPrefix('mem'));
      const { runEvents } = testCore(app.db, bus, { logger });
      const { run } = await startRun();
      const stream = await runLogsStream({ runs: app.runs, bus }, { runId: run.id }, { highWaterMark: 2 });
      const pending = stream.next(); // replay (nothing stored), then waits for live lines
      await runEvents.apply({ type: 'run.log', runId: run.id, payload: { lines: lines(1) } });
      expect(((await pending).value as LogChunkView).lines.map((l) => l.seq)).toEqual(['1']);
      // The client does not read: five messages arrive, the buffer holds two, three are shed.
      for (let i = 0; i < 5; i++) await runEvents.apply({ type: 'run.log', runId: run.id, payload: { lines: lines(10, 1 + i * 10) } });
      const notice = (await stream.next()).value as LogChunkView;
      expect(notice).toEqual({ runId: run.id, lines: [], cursor: '1', replay: false, droppedLines: 30 });
      const rest = [(await stream.next()).value, (await stream.next()).value] as LogChunkView[];
      expect(rest.flatMap((c) => c.lines.map((l) => Number(l.seq)))).toEqual(range(32, 51));
      // What was shed is still stored: Run.logs(after: cursor) gets it.
      const fetched = await app.runs.logs(run.id, { after: notice.cursor, first: notice.droppedLines });
      expect(fetched.edges.map((e) => Number(e.node.seq))).toEqual(range(2, 31));
      await stream.return(undefined);
    });

    it('fills a gap from the store when publishes arrive out of order', async () => {
      const bus = makeMemoryBus(uniqueRedisPrefix('mem'));
      const silent = testCore(app.db, makeMemoryBus('nobody:'), { logger }).runEvents;
      const { run } = await startRun();
      const stream = await runLogsStream({ runs: app.runs, bus }, { runId: run.id });
      const pending = stream.next(); // replay finds nothing; the writes below come after it
      await new Promise((r) => setTimeout(r, 50));
      const a = await silent.apply({ type: 'run.log', runId: run.id, payload: { lines: lines(10) } });
      const b = await silent.apply({ type: 'run.log', runId: run.id, payload: { lines: lines(10, 10) } });
      expect([a.outcome, b.outcome]).toEqual(['applied', 'applied']);
      const stored = (await app.runs.logs(run.id, { first: 20 })).edges.map((e) => e.node);
      const payload = (ls: LogLineView[]) => ({ runId: run.id, lines: ls });
      await bus.publish(Topic.RUN_LOGS, run.id, payload(stored.slice(10))); // B overtakes A
      await bus.publish(Topic.RUN_LOGS, run.id, payload(stored.slice(0, 10)));
      const chunk = (await pending).value as LogChunkView;
      expect(chunk.lines.map((l) => Number(l.seq))).toEqual(range(1, 20));
      const after = await Promise.race([stream.next(), new Promise((r) => setTimeout(() => r('nothing'), 200))]);
      expect(after).toBe('nothing'); // A's late publish repeats nothing
      await stream.return(undefined);
    });
  });
});

describe('startServer', () => {
  it('stops idempotently: WebSockets are told 1001 "going away", then HTTP refuses', async () => {
    const logger = makeLogger('silent');
    const server = await startServer({
      schema: await buildJobwireSchema(schemaParts),
      contextFactory: makeContextFactory({ jobs: app.jobs, runs: app.runs, ingest: app.ingest, live: app.live, logger }),
      authenticator: makeAuthenticator(app.config.auth),
      config: { port: 0, host: '127.0.0.1', limits: app.config.limits, wsMaxPayloadBytes: app.config.wsMaxPayloadBytes },
      logger,
      readiness: async () => ({ ok: false, checks: { database: 'down for the test' } }),
    });
    expect(server.port).toBeGreaterThan(0);
    const notReady = await fetch(`${server.url}/readyz`);
    expect([notReady.status, await notReady.json()]).toEqual([503, { status: 'unavailable', checks: { database: 'down for the test' } }]);
    const { run } = await startRun();
    const client = await createWsClient(server.wsUrl);
    const sub = client.subscribe(RunUpdatedDocument, { runId: run.id });
    await sub.next();
    await Promise.all([server.stop(), server.stop()]);
    expect(await client.closed()).toBe(1001);
    await expect(fetch(server.graphqlUrl, { method: 'POST' })).rejects.toThrow();
    await server.stop();
    await client.dispose();
  });
});
