import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { TEST_SOURCE_ACCESS } from '../helpers/source-access';
import { openPostgres, type Database } from '../../src/db/orm';
import {
  ClusterMode,
  DataFormat,
  ExecutionBackend,
  JobStatus,
  LogLevel,
  ProcessingMode,
  RunStatus,
  RunTrigger,
  SourceType,
  type JobView,
} from '../../src/domain';
import { ErrorCode } from '../../src/errors';
import { makeMemoryBus } from '../../src/events/bus';
import type { CreateJobInput } from '../../src/jobs/job-input';
import { JobsService } from '../../src/jobs/jobs.service';
import { computePresets } from '../../src/jobs/presets';
import { makeLogger } from '../../src/logger';
import { RunEventsService } from '../../src/runs/run-events.service';
import { testCore } from '../helpers/core';
import { createTestDatabase } from '../helpers/db';
import { Disposables } from '../helpers/disposables';

const disposables = new Disposables();
const config = loadConfig({ RETRY_MAX_ATTEMPTS: '4', GRAPHQL_MAX_PAGE_SIZE: '50' }, TEST_SOURCE_ACCESS);
let database: Database;
let jobs: JobsService;
let runEvents: RunEventsService;
let dbUrl: string;

beforeAll(async () => {
  const db = disposables.add(await createTestDatabase('jobs'), (d) => d.drop());
  dbUrl = db.url;
  database = disposables.add(await openPostgres(db.url, { poolSize: 6 }), (d) => d.close());
  const logger = makeLogger('silent');
  ({ jobs, runEvents } = testCore(database, makeMemoryBus(), { logger, config }));
});
afterAll(() => disposables.disposeAll());

const sql = async <T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> =>
  database.orm.em.fork().execute(text, params) as Promise<T[]>;
const countJobs = async () => (await sql<{ n: number }>('select count(*)::int as n from jobs'))[0].n;

function baseInput(overrides: Partial<CreateJobInput> = {}): CreateJobInput {
  return {
    name: 'orders',
    source: { type: SourceType.LOCAL, params: { path: '/data/in/orders.csv' } },
    destination: { schema: 'public', table: 'orders' },
    ...overrides,
  };
}

const source = (type: SourceType, params: unknown) => ({ source: { type, params } });
/** A source for the SPARK backend, which reads PostgreSQL (the LOCAL one does not). */
const spark = (type: SourceType, params: unknown) => ({ backend: ExecutionBackend.SPARK, source: { type, params } });

/** [what, input changes, field named by the error] */
const INVALID: [string, Partial<CreateJobInput>, string][] = [
  ['empty name', { name: '' }, 'input.name'],
  ['blank name', { name: '   ' }, 'input.name'],
  ['name over 200 characters', { name: 'x'.repeat(201) }, 'input.name'],
  ['empty tag', { tags: ['ok', ''] }, 'input.tags[1]'],
  ['51 tags', { tags: Array.from({ length: 51 }, (_, i) => `t${i}`) }, 'input.tags'],
  ['minWorkers > maxWorkers', { compute: { minWorkers: 5, maxWorkers: 2 } }, 'input.compute.minWorkers'],
  ['negative minWorkers', { compute: { minWorkers: -1 } }, 'input.compute.minWorkers'],
  ['negative maxWorkers', { compute: { maxWorkers: -3 } }, 'input.compute.maxWorkers'],
  ['sparkConf with a nested object', { compute: { sparkConf: { 'spark.x': { a: 1 } } } }, 'input.compute.sparkConf.spark.x'],
  ['bad cron', { schedule: { cron: 'every day at noon' } }, 'input.schedule.cron'],
  ['unknown time zone', { schedule: { cron: '0 * * * *', timezone: 'Mars/Olympus_Mons' } }, 'input.schedule.timezone'],
  [
    'startAt after endAt',
    { schedule: { cron: '0 * * * *', startAt: new Date('2030-01-02'), endAt: new Date('2030-01-01') } },
    'input.schedule.endAt',
  ],
  ['negative retryDelaySeconds', { schedule: { cron: '0 * * * *', retryDelaySeconds: -1 } }, 'input.schedule.retryDelaySeconds'],
  ['zero batchSize', { processing: { batchSize: 0 } }, 'input.processing.batchSize'],
  ['maxAttempts 0', { maxAttempts: 0 }, 'input.maxAttempts'],
  ['maxAttempts 101', { maxAttempts: 101 }, 'input.maxAttempts'],
  ['SQL in the table name', { destination: { schema: 'public', table: 'orders; drop table jobs' } }, 'input.destination.table'],
  ['dash in the schema name', { destination: { schema: 'my-schema', table: 'orders' } }, 'input.destination.schema'],
  ['64-character table name', { destination: { schema: 'public', table: 't'.repeat(64) } }, 'input.destination.table'],
  ['params not an object', source(SourceType.LOCAL, ['/data']), 'input.source.params'],
  ['LOCAL without path', source(SourceType.LOCAL, {}), 'input.source.params.path'],
  ['HTTP with an ftp URL', source(SourceType.HTTP, { url: 'ftp://example.com/x.csv' }), 'input.source.params.url'],
  [
    'HTTP header that is not a string',
    source(SourceType.HTTP, { url: 'https://example.com/x.csv', headers: { 'X-Api-Key': 42 } }),
    'input.source.params.headers.X-Api-Key',
  ],
  ['POSTGRES without a connection', spark(SourceType.POSTGRES, { table: 'orders' }), 'input.source.params.connectionString'],
  [
    'POSTGRES with a mysql URL',
    spark(SourceType.POSTGRES, { connectionString: 'mysql://u:hunter22@h/db', table: 't' }),
    'input.source.params.connectionString',
  ],
  [
    'POSTGRES port not an integer',
    spark(SourceType.POSTGRES, { host: 'h', database: 'd', port: '5432', table: 't' }),
    'input.source.params.port',
  ],
  ['POSTGRES without table or query', spark(SourceType.POSTGRES, { connectionString: 'postgres://h/db' }), 'input.source.params.table'],
  // No backend of this gateway executes these source types: refused before their params are looked at.
  ['a KAFKA source on LOCAL', source(SourceType.KAFKA, { brokers: ['kafka-1:9092'], topic: 'orders' }), 'input.source.type'],
  ['an S3 source on LOCAL', source(SourceType.S3, { bucket: 'b', prefix: 'in/' }), 'input.source.type'],
  ['an SFTP source on SPARK', spark(SourceType.SFTP, { host: 'h', user: 'u', password: 'p', path: '/in' }), 'input.source.type'],
  ['a POSTGRES source on LOCAL', source(SourceType.POSTGRES, { connectionString: 'postgres://h/db', table: 't' }), 'input.source.type'],
  ['PARQUET on the LOCAL backend', { processing: { format: DataFormat.PARQUET } }, 'input.processing.format'],
  ['STREAMING on the LOCAL backend', { processing: { mode: ProcessingMode.STREAMING } }, 'input.processing.mode'],
];

describe('JobsService.create', () => {
  it.each(INVALID)('rejects %s with BAD_USER_INPUT naming the field and writes nothing', async (_what, changes, field) => {
    const before = await countJobs();
    const err = await jobs.create(baseInput(changes)).catch((e) => e);
    expect(err).toMatchObject({ code: ErrorCode.BAD_USER_INPUT, field });
    expect(err.message).not.toContain('hunter22');
    expect(await countJobs()).toBe(before);
  });

  it('fills in the documented defaults', async () => {
    const job = await jobs.create(baseInput());
    expect(job).toMatchObject({
      tags: [],
      backend: ExecutionBackend.LOCAL,
      processing: {
        mode: 'BATCH',
        format: 'AUTO',
        batchSize: 10000,
        checkpointEnabled: false,
        watermarkSeconds: null,
        triggerIntervalSeconds: null,
      },
      compute: computePresets().find((p) => p.name === 'small')!.compute,
      schedule: null,
      maxAttempts: 4,
      status: JobStatus.CREATED,
      latestRunId: null,
    });
    expect(job.source).toEqual({ type: 'LOCAL', params: { path: '/data/in/orders.csv' }, filePattern: null, schemaInference: true });
  });

  it('accepts PARQUET on the backend that reads it (SPARK), and refuses STREAMING where no backend streams', async () => {
    const job = await jobs.create(baseInput({ backend: ExecutionBackend.SPARK, processing: { format: DataFormat.PARQUET } }));
    expect(job.processing).toMatchObject({ format: 'PARQUET', mode: 'BATCH' });
    const err = await jobs
      .create(baseInput({ backend: ExecutionBackend.SPARK, processing: { mode: ProcessingMode.STREAMING } }))
      .catch((e) => e);
    expect(err).toMatchObject({ code: ErrorCode.BAD_USER_INPUT, field: 'input.processing.mode' });
  });

  it('computes nextRunAt from the schedule, and none when the schedule is disabled', async () => {
    const on = await jobs.create(baseInput({ schedule: { cron: '30 2 * * *', timezone: 'Europe/Berlin' } }));
    const next = new Date(on.schedule!.nextRunAt!);
    expect(next.getTime()).toBeGreaterThan(Date.now());
    expect(next.getTime() - Date.now()).toBeLessThanOrEqual(25 * 3600_000);
    expect(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit' }).format(next)).toBe('02:30');
    expect(on.schedule).toMatchObject({ timezone: 'Europe/Berlin', retryDelaySeconds: 300, enabled: true });
    const off = await jobs.create(baseInput({ schedule: { cron: '30 2 * * *', enabled: false } }));
    expect(off.schedule).toMatchObject({ enabled: false, nextRunAt: null, timezone: 'UTC' });
  });
});

describe('secrets', () => {
  const secretParams = {
    connectionString: 'postgres://app:s3cr3t-pw@db.internal:5432/shop',
    table: 'orders',
    sslPassword: 'another-secret',
  };

  it('are masked in create, get and list, and stored intact', async () => {
    const created = await jobs.create(
      baseInput({ name: 'secretive', tags: ['secrets'], backend: ExecutionBackend.SPARK, ...source(SourceType.POSTGRES, secretParams) }),
    );
    const masked = { connectionString: 'postgres://app:***@db.internal:5432/shop', table: 'orders', sslPassword: '***' };
    expect(created.source.params).toEqual(masked);
    expect((await jobs.get(created.id))!.source.params).toEqual(masked);
    const listed = await jobs.list({ tag: 'secrets' }, {});
    expect(listed.edges.map((e) => e.node.source.params)).toEqual([masked]);
    expect(JSON.stringify(await jobs.getMany([created.id]))).not.toContain('s3cr3t');

    const [row] = await sql<{ source: { params: typeof secretParams } }>('select source from jobs where id = ?', [created.id]);
    expect(row.source.params).toEqual(secretParams);
  });

  it('survive an update that sends the masked params back', async () => {
    const created = await jobs.create(
      baseInput({
        name: 'round trip',
        ...source(SourceType.HTTP, { url: 'https://api.example.com/orders.csv', headers: { Authorization: 'Bearer tok-123456' } }),
      }),
    );
    expect(created.source.params).toEqual({ url: 'https://api.example.com/orders.csv', headers: { Authorization: '***' } });
    const changed = { ...created.source.params, url: 'https://api.example.com/v2/orders.csv' };
    const updated = await jobs.update(created.id, { source: { type: SourceType.HTTP, params: changed } });
    expect(updated.source.params).toEqual({ url: 'https://api.example.com/v2/orders.csv', headers: { Authorization: '***' } });
    const [row] = await sql<{ source: { params: Record<string, unknown> } }>('select source from jobs where id = ?', [created.id]);
    expect(row.source.params).toEqual({ url: 'https://api.example.com/v2/orders.csv', headers: { Authorization: 'Bearer tok-123456' } });
  });

  it('refuses "***" where no secret is stored to keep', async () => {
    const created = await jobs.create(
      baseInput({
        name: 'no secret yet',
        ...spark(SourceType.POSTGRES, { host: 'h', database: 'd', user: 'u', table: 't' }),
      }),
    );
    const err = await jobs
      .update(created.id, { source: { type: SourceType.POSTGRES, params: { ...created.source.params, password: '***' } } })
      .catch((e) => e);
    expect(err).toMatchObject({ code: ErrorCode.BAD_USER_INPUT, field: 'input.source.params.password' });
  });
});

describe('JobsService.update', () => {
  it('changes only the given fields, removes the schedule on null, and recomputes nextRunAt', async () => {
    const job = await jobs.create(baseInput({ name: 'to update', description: 'd', tags: ['a'], schedule: { cron: '0 * * * *' } }));
    expect(job.schedule!.nextRunAt).not.toBeNull();
    const renamed = await jobs.update(job.id, { name: 'renamed', processing: { batchSize: 500 } });
    expect(renamed).toMatchObject({ name: 'renamed', description: 'd', tags: ['a'], processing: { batchSize: 500, format: 'AUTO' } });
    expect(renamed.schedule).toEqual(job.schedule);
    const unscheduled = await jobs.update(job.id, { schedule: null });
    expect(unscheduled.schedule).toBeNull();
    const [row] = await sql<{ next_run_at: Date | null }>('select next_run_at from jobs where id = ?', [job.id]);
    expect(row.next_run_at).toBeNull();
  });

  it('writes nothing when any field is invalid', async () => {
    const job = await jobs.create(baseInput({ name: 'stays' }));
    const err = await jobs.update(job.id, { name: 'changed', maxAttempts: 0 }).catch((e) => e);
    expect(err).toMatchObject({ code: ErrorCode.BAD_USER_INPUT, field: 'input.maxAttempts' });
    expect((await jobs.get(job.id))!.name).toBe('stays');
  });

  it('answers NOT_FOUND for unknown ids', async () => {
    await expect(jobs.update('00000000-0000-4000-8000-000000000000', { name: 'x' })).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
    await expect(jobs.delete('not-a-uuid')).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
    expect(await jobs.get('not-a-uuid')).toBeNull();
  });
});

describe('compute and deletion while a run is active', () => {
  let job: JobView;
  let runId: string;

  beforeAll(async () => {
    job = await jobs.create(baseInput({ name: 'busy' }));
    const { run } = await runEvents.createRun(job.id, RunTrigger.MANUAL, { idempotencyKey: 'k1' });
    runId = run.id;
    await runEvents.apply({ type: 'run.status', runId, payload: { status: RunStatus.RUNNING } });
    await runEvents.apply({ type: 'stage.progress', runId, payload: { stage: 'load', totalItems: 3, increment: 1 } });
    await runEvents.apply({ type: 'run.log', runId, payload: { lines: [{ level: LogLevel.INFO, message: 'hello' }] } });
    await runEvents.apply({
      type: 'run.metrics',
      runId,
      payload: { recordsProcessed: 1, recordsFailed: 0, throughputRps: 1, bytesProcessed: 10, activeWorkers: 1 },
    });
  });

  it('refuses updateCompute, applyComputePreset and delete with CONFLICT and changes nothing', async () => {
    await expect(jobs.updateCompute(job.id, { maxWorkers: 9 })).rejects.toMatchObject({ code: ErrorCode.CONFLICT });
    await expect(jobs.applyComputePreset(job.id, 'large')).rejects.toMatchObject({ code: ErrorCode.CONFLICT });
    await expect(jobs.delete(job.id)).rejects.toMatchObject({ code: ErrorCode.CONFLICT, message: expect.stringContaining('RUNNING') });
    expect((await jobs.get(job.id))!.compute).toEqual(job.compute);
  });

  it('allows source changes while the run is active (they apply to the next run)', async () => {
    const updated = await jobs.update(job.id, { source: { type: SourceType.LOCAL, params: { path: '/data/in/next.csv' } } });
    expect(updated.source.params).toEqual({ path: '/data/in/next.csv' });
  });

  it('once the run ends: merges compute, applies presets, and deletes the job with everything it owns', async () => {
    await runEvents.apply({ type: 'run.status', runId, payload: { status: RunStatus.SUCCEEDED } });
    const merged = await jobs.updateCompute(job.id, { maxWorkers: 8, minWorkers: 2, sparkConf: { 'spark.sql.shuffle.partitions': 64 } });
    expect(merged.compute).toEqual({ ...job.compute, maxWorkers: 8, minWorkers: 2, sparkConf: { 'spark.sql.shuffle.partitions': 64 } });
    await expect(jobs.updateCompute(job.id, { minWorkers: 9 })).rejects.toMatchObject({
      code: ErrorCode.BAD_USER_INPUT,
      field: 'input.minWorkers',
    });
    await expect(jobs.updateCompute(job.id, { maxWorkers: 1001 })).rejects.toMatchObject({ field: 'input.maxWorkers' });

    const large = await jobs.applyComputePreset(job.id, 'large');
    expect(large.compute).toEqual(computePresets().find((p) => p.name === 'large')!.compute);
    const unknown = await jobs.applyComputePreset(job.id, 'huge').catch((e) => e);
    expect(unknown).toMatchObject({ code: ErrorCode.BAD_USER_INPUT, field: 'preset' });
    expect(unknown.message).toContain('memory-heavy');

    expect(await jobs.delete(job.id)).toBe(true);
    expect(await jobs.get(job.id)).toBeNull();
    for (const [table, column, id] of [
      ['runs', 'job_id', job.id],
      ['run_stages', 'run_id', runId],
      ['run_logs', 'run_id', runId],
      ['run_metric_samples', 'run_id', runId],
      ['idempotency_keys', 'scope', `startJob:${job.id}`],
    ]) {
      const [{ n }] = await sql<{ n: number }>(`select count(*)::int as n from ${table} where ${column} = ?`, [id]);
      expect([table, n]).toEqual([table, 0]);
    }
  });
});

describe('JobsService.list', () => {
  const tag = `page-${Date.now()}`;
  let created: JobView[] = [];

  beforeAll(async () => {
    created = [];
    for (let i = 0; i < 23; i++) {
      created.push(
        await jobs.create(baseInput({ name: `Paged job ${i}${i === 7 ? ' 100%_done' : ''}`, tags: [tag, i % 2 ? 'odd' : 'even'] })),
      );
    }
  });

  it('walks every job exactly once, newest first, with the same totalCount on each page', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const page: Awaited<ReturnType<JobsService['list']>> = await jobs.list({ tag }, { first: 5, after });
      expect(page.totalCount).toBe(23);
      seen.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    // Newest first; jobs made in the same millisecond by id, descending (the list's keyset order).
    const newestFirst = [...created].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || (a.id < b.id ? 1 : -1));
    expect(seen).toEqual(newestFirst.map((j) => j.id));
  });

  it('filters by tag, backend, status and a case-insensitive search that treats % and _ literally', async () => {
    expect((await jobs.list({ tag: 'odd' }, { first: 50 })).edges.every((e) => e.node.tags.includes('odd'))).toBe(true);
    const search = await jobs.list({ search: 'PAGED JOB 1' }, { first: 50 });
    expect(search.edges.map((e) => e.node.name).sort()).toEqual(
      ['Paged job 1', ...Array.from({ length: 10 }, (_, i) => `Paged job 1${i}`)].sort(),
    );
    expect((await jobs.list({ search: '100%_' }, {})).edges.map((e) => e.node.name)).toEqual(['Paged job 7 100%_done']);
    expect((await jobs.list({ search: '1%0' }, {})).totalCount).toBe(0);
    expect((await jobs.list({ tag, backend: ExecutionBackend.SPARK }, {})).totalCount).toBe(0);

    await runEvents.createRun(created[3].id, RunTrigger.MANUAL);
    const running = await jobs.list({ tag, status: JobStatus.RUNNING }, {});
    expect(running.edges.map((e) => e.node.id)).toEqual([created[3].id]);
  });

  it('rejects a malformed cursor or page size', async () => {
    await expect(jobs.list(null, { after: 'bm90LWEtY3Vyc29y' })).rejects.toMatchObject({ code: ErrorCode.BAD_USER_INPUT, field: 'after' });
    await expect(jobs.list(null, { after: '%%%' })).rejects.toMatchObject({ field: 'after' });
    await expect(jobs.list(null, { first: -1 })).rejects.toMatchObject({ field: 'first' });
    await expect(jobs.list(null, { first: 51 })).rejects.toMatchObject({ field: 'first' });
  });

  it('getMany returns jobs in the order asked, null for unknown ids', async () => {
    const ids = [created[5].id, '00000000-0000-4000-8000-000000000000', created[1].id, 'junk', created[5].id];
    const got = await jobs.getMany(ids);
    expect(got.map((j) => j?.id ?? null)).toEqual([created[5].id, null, created[1].id, null, created[5].id]);
  });
});

describe('presets and source types', () => {
  it('offers a handful of described presets with distinct names', () => {
    const presets = jobs.computePresets();
    expect(presets.length).toBeGreaterThanOrEqual(4);
    expect(new Set(presets.map((p) => p.name)).size).toBe(presets.length);
    for (const p of presets) {
      expect(p.description.length).toBeGreaterThan(20);
      expect(p.compute.minWorkers).toBeLessThanOrEqual(p.compute.maxWorkers);
    }
    expect(presets.find((p) => p.name === 'serverless')!.compute.clusterMode).toBe(ClusterMode.SERVERLESS);
  });

  it('describes every source type', () => {
    const types = jobs.sourceTypes();
    expect(types.map((t) => t.type).sort()).toEqual(Object.values(SourceType).sort());
    // What this gateway can execute: the LOCAL engine reads LOCAL and HTTP files; SPARK and KAFKA are not configured here.
    expect(types.find((t) => t.type === SourceType.LOCAL)).toEqual({
      type: SourceType.LOCAL,
      formats: [DataFormat.AUTO, DataFormat.CSV, DataFormat.JSON, DataFormat.NDJSON],
      batch: true,
      streaming: false,
      backends: [ExecutionBackend.LOCAL],
    });
    expect(types.find((t) => t.type === SourceType.HTTP)).toMatchObject({
      streaming: false,
      batch: true,
      backends: [ExecutionBackend.LOCAL],
    });
    for (const type of [SourceType.POSTGRES, SourceType.KAFKA, SourceType.S3, SourceType.SFTP]) {
      expect(types.find((t) => t.type === type)).toEqual({ type, formats: [], batch: false, streaming: false, backends: [] });
    }
  });
});

describe('testSourceConnection', () => {
  let dir: string;
  let server: http.Server;
  let base: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-conn-'));
    fs.writeFileSync(path.join(dir, 'a.csv'), 'id,name,amount,"quoted, header"\n1,alpha,1.5,x\n2,beta,2,y\n');
    fs.writeFileSync(path.join(dir, 'b.csv'), 'id,name\n3,gamma\n');
    fs.writeFileSync(path.join(dir, 'rows.ndjson'), '{"id":1,"tags":["a"],"at":"2026-01-01T00:00:00Z"}\n{"id":2,"extra":true}\n');
    server = http.createServer((req, res) => {
      if (req.url === '/slow') return void setTimeout(() => res.end('late'), 3000);
      res.writeHead(req.url?.startsWith('/ok') ? 200 : 404, { 'content-type': 'text/csv' });
      res.end('id\n1\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('validates params like createJob, naming input.params', async () => {
    await expect(jobs.testSourceConnection({ type: SourceType.LOCAL, params: {} })).rejects.toMatchObject({
      code: ErrorCode.BAD_USER_INPUT,
      field: 'input.params.path',
    });
  });

  it('reads the CSV header of a local file, with inferred types', async () => {
    const r = await jobs.testSourceConnection({ type: SourceType.LOCAL, params: { path: path.join(dir, 'a.csv') } });
    expect(r).toMatchObject({ ok: true, sampleSchema: { format: 'CSV' } });
    expect((r.sampleSchema as { columns: unknown }).columns).toEqual([
      { name: 'id', type: 'BIGINT' },
      { name: 'name', type: 'TEXT' },
      { name: 'amount', type: 'DOUBLE PRECISION' },
      { name: 'quoted, header', type: 'TEXT' },
    ]);
    expect(r.latencyMs).toEqual(expect.any(Number));
  });

  it('counts the files of a glob and samples NDJSON keys', async () => {
    const glob = await jobs.testSourceConnection({ type: SourceType.LOCAL, params: { path: path.join(dir, '*.csv') } });
    expect(glob).toMatchObject({ ok: true, message: expect.stringContaining('2 files') });
    const nd = await jobs.testSourceConnection({ type: SourceType.LOCAL, params: { path: path.join(dir, 'rows.ndjson') } });
    expect((nd.sampleSchema as { columns: { name: string }[] }).columns.map((c) => c.name)).toEqual(['id', 'tags', 'at', 'extra']);
  });

  it('reports a missing path as not ok', async () => {
    const r = await jobs.testSourceConnection({ type: SourceType.LOCAL, params: { path: path.join(dir, 'missing.csv') } });
    expect(r).toMatchObject({ ok: false, message: expect.stringContaining('does not exist') });
    const none = await jobs.testSourceConnection({ type: SourceType.LOCAL, params: { path: path.join(dir, '*.parquet') } });
    expect(none).toMatchObject({ ok: false, message: expect.stringContaining('no file matches') });
  });

  it('checks an HTTP source by its status line, never showing credentials, query or headers', async () => {
    const url = base.replace('http://', 'http://user:pa55word@') + '/ok.csv?token=abcdef';
    const ok = await jobs.testSourceConnection({ type: SourceType.HTTP, params: { url, headers: { 'X-Api-Key': 'key-998877' } } });
    expect(ok).toMatchObject({ ok: true, message: expect.stringContaining('HTTP 200') });
    expect(ok.message).toContain(`${base}/ok.csv`);
    for (const secret of ['pa55word', 'abcdef', 'key-998877']) expect(ok.message).not.toContain(secret);
    const missing = await jobs.testSourceConnection({ type: SourceType.HTTP, params: { url: `${base}/nope.csv` } });
    expect(missing).toMatchObject({ ok: false, message: expect.stringContaining('HTTP 404') });
  });

  it('reports an unreachable HTTP host as not ok', async () => {
    const r = await jobs.testSourceConnection({ type: SourceType.HTTP, params: { url: 'http://127.0.0.1:1/x.csv' } });
    expect(r).toMatchObject({ ok: false, message: expect.stringContaining('cannot reach http://127.0.0.1:1/x.csv') });
  });

  it('connects to PostgreSQL and lists the columns of a table', async () => {
    const r = await jobs.testSourceConnection({ type: SourceType.POSTGRES, params: { connectionString: dbUrl, table: 'jobwire.jobs' } });
    expect(r).toMatchObject({ ok: true, message: expect.stringContaining('table jobwire.jobs has') });
    expect((r.sampleSchema as { columns: { name: string }[] }).columns.map((c) => c.name)).toEqual(
      expect.arrayContaining(['id', 'name', 'source']),
    );
    const q = await jobs.testSourceConnection({
      type: SourceType.POSTGRES,
      params: { connectionString: dbUrl, query: 'select id, name from jobwire.jobs;' },
    });
    expect(q).toMatchObject({
      ok: true,
      sampleSchema: {
        columns: [
          { name: 'id', type: 'uuid' },
          { name: 'name', type: 'text' },
        ],
      },
    });
  });

  it('reports a PostgreSQL failure without the password', async () => {
    const u = new URL(dbUrl);
    u.password = 'very-secret-pw';
    u.pathname = '/no_such_database_here';
    const r = await jobs.testSourceConnection({ type: SourceType.POSTGRES, params: { connectionString: u.toString(), table: 'x' } });
    expect(r.ok).toBe(false);
    expect(r.message).toContain('no_such_database_here');
    expect(r.message).not.toContain('very-secret-pw');
  });

  it('reports an unreachable Kafka as not ok within the timeout', async () => {
    const started = Date.now();
    const r = await jobs.testSourceConnection({ type: SourceType.KAFKA, params: { brokers: ['127.0.0.1:1'], topic: 'orders' } });
    expect(r.ok).toBe(false);
    expect(Date.now() - started).toBeLessThan(7000);
  });

  it('says plainly that S3 and SFTP cannot be tested yet', async () => {
    const r = await jobs.testSourceConnection({
      type: SourceType.S3,
      params: { bucket: 'my-bucket', secretAccessKey: 'abc123xyz', accessKeyId: 'AKIA' },
    });
    expect(r).toEqual({ ok: false, message: expect.stringContaining('cannot test S3'), latencyMs: null, sampleSchema: null });
  });
});

describe('LOCAL_SOURCE_ROOTS', () => {
  let dir: string;
  let restricted: JobsService;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-roots-'));
    fs.mkdirSync(path.join(dir, 'allowed'));
    fs.writeFileSync(path.join(dir, 'allowed', 'in.csv'), 'id,name\n1,a\n');
    fs.writeFileSync(path.join(dir, 'secret.csv'), 'password,token\nx,y\n');
    fs.symlinkSync(path.join(dir, 'secret.csv'), path.join(dir, 'allowed', 'link.csv'));
    const rootsConfig = loadConfig({ LOCAL_SOURCE_ROOTS: path.join(dir, 'allowed') });
    restricted = testCore(database, makeMemoryBus(), { config: rootsConfig }).jobs;
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('accepts paths inside the roots and refuses the others, traversal and links included, writing nothing', async () => {
    const ok = await restricted.create(
      baseInput({ source: { type: SourceType.LOCAL, params: { path: path.join(dir, 'allowed', '*.csv') } } }),
    );
    expect(ok.id).toBeDefined();
    const before = await countJobs();
    for (const p of ['/etc/passwd', path.join(dir, 'allowed', '..', 'secret.csv'), path.join(dir, 'allowed', 'link.csv')]) {
      await expect(restricted.create(baseInput({ source: { type: SourceType.LOCAL, params: { path: p } } }))).rejects.toMatchObject({
        code: ErrorCode.BAD_USER_INPUT,
        field: 'input.source.params.path',
      });
    }
    expect(await countJobs()).toBe(before);
  });

  it('does not let a connection test read a file outside the roots', async () => {
    await expect(restricted.testSourceConnection({ type: SourceType.LOCAL, params: { path: '/etc/passwd' } })).rejects.toMatchObject({
      code: ErrorCode.BAD_USER_INPUT,
      field: 'input.params.path',
    });
    // A directory inside the roots holding a link to a file outside: the listing refuses it, as the executor does.
    const viaLink = await restricted.testSourceConnection({ type: SourceType.LOCAL, params: { path: path.join(dir, 'allowed') } });
    expect(viaLink).toMatchObject({ ok: false, message: expect.stringContaining('outside the directories LOCAL sources may read') });
    expect(JSON.stringify(viaLink)).not.toContain('password');
  });
});
