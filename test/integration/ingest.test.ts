/**
 * The LOCAL executor's ingestion engine against a real PostgreSQL (DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres): each run creates and drops its own database.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PgliteGate } from '../../src/db/pglite-gate';
import { Pool } from 'pg';
import { createTestDatabase } from '../helpers/db';
import {
  IngestError,
  ingest,
  makePgliteSink,
  makePgSink,
  type IngestResult,
  type IngestSpec,
  type LogLevel,
  type StageUpdate,
} from '../../src/backends/local/ingest';

let testDb: Awaited<ReturnType<typeof createTestDatabase>>;
let pool: Pool;
let dir: string;
let server: http.Server;
let baseUrl: string;

interface Run {
  result?: IngestResult;
  error?: IngestError;
  logs: { level: LogLevel; message: string }[];
  stages: StageUpdate[];
  ms: number;
}

function finalStage(run: Run, stage: string): StageUpdate | undefined {
  return [...run.stages].reverse().find((u) => u.stage === stage);
}

async function run(spec: Partial<IngestSpec> & { source: IngestSpec['source'] }, signal = new AbortController().signal): Promise<Run> {
  const logs: Run['logs'] = [];
  const stages: StageUpdate[] = [];
  const started = Date.now();
  const { done } = ingest(
    { format: 'AUTO', destination: { schema: 'raw', table: 't' }, batchSize: 10_000, maxFailedRowRatio: 0.1, ...spec },
    makePgSink(pool),
    { signal, onStage: (u) => stages.push(u), onLog: (level, message) => logs.push({ level, message }) },
  );
  try {
    return { result: await done, logs, stages, ms: Date.now() - started };
  } catch (err) {
    expect(err).toBeInstanceOf(IngestError);
    return { error: err as IngestError, logs, stages, ms: Date.now() - started };
  }
}

async function count(table: string): Promise<number> {
  return Number((await pool.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
}

async function columnTypes(schema: string, table: string): Promise<Record<string, string>> {
  const { rows } = await pool.query(
    'SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position',
    [schema, table],
  );
  return Object.fromEntries(rows.map((r) => [r.column_name, r.data_type]));
}

/** Writes a CSV of `rows` rows (id,amount,name,created_at,active), calling `line(i)` to override data line i (1-based, header excluded). */
function writeCsv(file: string, rows: number, line?: (i: number) => string | undefined): void {
  const fd = fs.openSync(file, 'w');
  let buf = 'id,amount,Customer Name,created_at,active\n';
  for (let i = 1; i <= rows; i++) {
    const custom = line?.(i);
    buf +=
      custom !== undefined
        ? `${custom}\n`
        : `${i},${(i * 1.25).toFixed(2)},${i % 7 === 0 ? `"Doe, J${i}"` : `name ${i}`},2024-03-01T10:00:${String(i % 60).padStart(2, '0')}Z,${i % 2 === 0}\n`;
    if (buf.length > 1 << 16) {
      fs.writeSync(fd, buf);
      buf = '';
    }
  }
  fs.writeSync(fd, buf);
  fs.closeSync(fd);
}

beforeAll(async () => {
  testDb = await createTestDatabase('ingest');
  pool = new Pool({ connectionString: testDb.url, max: 4 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-ingest-'));
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/status/404') return void res.writeHead(404).end('nope');
    if (url.pathname === '/status/500') return void res.writeHead(500).end('boom');
    if (url.pathname === '/auth' && req.headers.authorization !== 'Bearer s3cret-token') return void res.writeHead(401).end();
    const file = path.join(dir, url.pathname === '/auth' ? 'http.csv' : path.basename(url.pathname));
    if (!fs.existsSync(file)) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/csv', 'content-length': fs.statSync(file).size });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await pool?.end();
  await new Promise((resolve) => server?.close(resolve));
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  await testDb?.drop();
});

describe('CSV', () => {
  it('loads 20,000 rows, skipping bad rows with their line numbers', async () => {
    const file = path.join(dir, 'orders.csv');
    // Data line i is file line i + 1 (the header is line 1).
    writeCsv(file, 20_000, (i) => {
      if (i === 100) return '100,1.5,extra,2024-03-01T10:00:00Z,true,surplus'; // line 101: 6 columns
      if (i === 12_000) return '12000,2.5'; // line 12001: 2 columns
      if (i === 15_000) return 'abc,3.5,x,2024-03-01T10:00:00Z,false'; // line 15001: "abc" in the BIGINT column (after the sample)
      if (i === 16_000) return '16000,,,,'; // empty values => NULL
      return undefined;
    });
    const r = await run({
      source: { type: 'LOCAL', params: { path: file } },
      destination: { schema: 'raw', table: 'orders' },
      batchSize: 5000,
    });
    expect(r.error).toBeUndefined();
    expect(r.result).toMatchObject({ rowsRead: 20_000, rowsLoaded: 19_997, rowsFailed: 3, table: '"raw"."orders"' });
    expect(r.result!.bytesRead).toBe(fs.statSync(file).size);
    expect(r.result!.columns).toEqual([
      { name: 'id', type: 'BIGINT' },
      { name: 'amount', type: 'DOUBLE PRECISION' },
      { name: 'customer_name', type: 'TEXT' },
      { name: 'created_at', type: 'TIMESTAMPTZ' },
      { name: 'active', type: 'BOOLEAN' },
    ]);
    expect(await count('raw.orders')).toBe(19_997);
    expect(await columnTypes('raw', 'orders')).toEqual({
      id: 'bigint',
      amount: 'double precision',
      customer_name: 'text',
      created_at: 'timestamp with time zone',
      active: 'boolean',
    });
    const { rows } = await pool.query(
      `SELECT id, amount, customer_name, created_at = '2024-03-01T10:00:07Z'::timestamptz AS ts_ok, active
         FROM raw.orders WHERE id IN (7, 8, 16000) ORDER BY id`,
    );
    expect(rows).toEqual([
      { id: '7', amount: 8.75, customer_name: 'Doe, J7', ts_ok: true, active: false },
      { id: '8', amount: 10, customer_name: 'name 8', ts_ok: false, active: true },
      { id: '16000', amount: null, customer_name: null, ts_ok: null, active: null },
    ]);
    const warns = r.logs.filter((l) => l.level === 'WARN').map((l) => l.message);
    expect(warns).toEqual([
      `bad row at line 101 of ${file}: expected 5 columns, got 6`,
      `bad row at line 12001 of ${file}: expected 5 columns, got 2`,
      `bad row at line 15001 of ${file}: column "id": invalid BIGINT value "abc"`,
    ]);
    const infos = r.logs.filter((l) => l.level === 'INFO').map((l) => l.message);
    expect(infos.some((m) => m.startsWith(`opened ${file} (`))).toBe(true);
    expect(infos).toContain(`format of ${file}: CSV (from the file extension)`);
    expect(infos.some((m) => m.startsWith('columns inferred from 5000 rows: id BIGINT, amount DOUBLE PRECISION'))).toBe(true);
    expect(infos.some((m) => m.startsWith('created table "raw"."orders"'))).toBe(true);
    expect(infos.some((m) => m.startsWith('finished: 19997 rows loaded'))).toBe(true);
    expect(r.logs.some((l) => l.level === 'DEBUG' && /^loaded \d+ rows/.test(l.message))).toBe(true);
    expect(finalStage(r, 'extract')).toMatchObject({ status: 'COMPLETED', totalItems: 20_000, completedItems: 20_000, failedItems: 0 });
    expect(finalStage(r, 'transform')).toMatchObject({ status: 'COMPLETED', totalItems: 20_000, completedItems: 19_997, failedItems: 3 });
    expect(finalStage(r, 'load')).toMatchObject({ status: 'COMPLETED', totalItems: 19_997, completedItems: 19_997, failedItems: 0 });
    // Counts moved while it worked, and never went backwards.
    const loads = r.stages.filter((u) => u.stage === 'load').map((u) => u.completedItems);
    expect(loads.length).toBeGreaterThan(1);
    expect([...loads].sort((a, b) => a - b)).toEqual(loads);
  });

  it('keeps awkward text intact: quotes, commas, newlines, tabs, backslashes, CRLF, COPY markers', async () => {
    const file = path.join(dir, 'awkward.csv');
    const values = ['plain', 'a,b', 'say "hi"', 'two\nlines', 'tab\there', 'back\\slash \\N', '\\.', ' padded ', 'caf\u00e9 \u{1F600}'];
    const body = values.map(
      (v, i) =>
        `${i + 1},"${v.replace(/"/g, '""')}",${v.includes('\n') || v.includes('"') || v.includes(',') ? `"${v.replace(/"/g, '""')}"` : v}`,
    );
    fs.writeFileSync(file, `id,quoted,raw\r\n${body.join('\r\n')}\r\n`);
    const r = await run({ source: { type: 'LOCAL', params: { path: file } }, destination: { schema: 'raw', table: 'awkward' } });
    expect(r.result).toMatchObject({ rowsRead: values.length, rowsLoaded: values.length, rowsFailed: 0 });
    const { rows } = await pool.query('SELECT quoted, raw FROM raw.awkward ORDER BY id');
    expect(rows.map((x) => x.quoted)).toEqual(values);
    expect(rows.map((x) => x.raw)).toEqual(values);
    const single = path.join(dir, 'single.csv');
    fs.writeFileSync(single, 'v\n1\n\\.\n3\n');
    const s1 = await run({ source: { type: 'LOCAL', params: { path: single } }, destination: { schema: 'raw', table: 'single' } });
    expect(s1.result).toMatchObject({ rowsLoaded: 3 });
    expect((await pool.query('SELECT v FROM raw.single ORDER BY v')).rows.map((x) => x.v)).toEqual(['1', '3', '\\.']);
  });

  it('appends into an existing table using its columns, ignoring unknown source columns', async () => {
    await pool.query(
      'CREATE TABLE raw.existing (serial_id serial PRIMARY KEY, active boolean, id integer, amount numeric(10,2), loaded_at timestamptz DEFAULT now())',
    );
    const file = path.join(dir, 'existing.csv');
    writeCsv(file, 50);
    const r = await run({ source: { type: 'LOCAL', params: { path: file } }, destination: { schema: 'raw', table: 'existing' } });
    expect(r.error).toBeUndefined();
    expect(r.result).toMatchObject({ rowsLoaded: 50, rowsFailed: 0 });
    expect(r.result!.columns.map((c) => c.name)).toEqual(['active', 'id', 'amount']);
    const warns = r.logs.filter((l) => l.level === 'WARN').map((l) => l.message);
    expect(warns).toEqual([
      'source column customer_name has no matching column in "raw"."existing"; its values are ignored',
      'source column created_at has no matching column in "raw"."existing"; its values are ignored',
    ]);
    const { rows } = await pool.query('SELECT id, amount::text, active, loaded_at IS NOT NULL AS dflt FROM raw.existing WHERE id = 3');
    expect(rows).toEqual([{ id: 3, amount: '3.75', active: false, dflt: true }]);
  });

  it('isolates rows the database refuses (constraint, type) by bisecting the batch', async () => {
    await pool.query('CREATE TABLE raw.strict (id bigint NOT NULL, ref uuid, note text)');
    const file = path.join(dir, 'strict.csv');
    const lines = ['id,ref,note'];
    for (let i = 1; i <= 40; i++)
      lines.push(`${i === 7 ? '' : i},${i === 4 ? 'not-a-uuid' : `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`},n${i}`);
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    const r = await run({ source: { type: 'LOCAL', params: { path: file } }, destination: { schema: 'raw', table: 'strict' } });
    expect(r.result).toMatchObject({ rowsRead: 40, rowsLoaded: 38, rowsFailed: 2 });
    const warns = r.logs.filter((l) => l.level === 'WARN').map((l) => l.message);
    expect(warns).toHaveLength(2);
    expect(warns[0]).toMatch(
      new RegExp(`^bad row at line 5 of .*strict.csv: rejected by the database: invalid input syntax for type uuid`),
    );
    expect(warns[1]).toMatch(new RegExp(`^bad row at line 8 of .*strict.csv: rejected by the database: null value in column "id"`));
    expect(finalStage(r, 'load')).toMatchObject({ status: 'COMPLETED', completedItems: 38, failedItems: 2 });
    expect(await count('raw.strict')).toBe(38);
  });

  it('fails PERMANENT when more than 10 % of the rows are bad', async () => {
    const file = path.join(dir, 'mostly-bad.csv');
    writeCsv(file, 2000, (i) => (i % 5 === 0 ? `${i},oops` : undefined));
    const r = await run({ source: { type: 'LOCAL', params: { path: file } }, destination: { schema: 'raw', table: 'mostly_bad' } });
    expect(r.error?.kind).toBe('PERMANENT');
    expect(r.error?.message).toMatch(/^too many bad rows: \d+ of \d+ rows read \(20%\) failed, more than the allowed 10%$/);
    expect(finalStage(r, 'extract')?.status).toBe('FAILED');
    expect(r.logs.some((l) => l.level === 'ERROR' && l.message.includes('too many bad rows'))).toBe(true);
  });

  it('loads every file matched by a glob, in sorted order', async () => {
    fs.mkdirSync(path.join(dir, 'glob', 'sub'), { recursive: true });
    writeCsv(path.join(dir, 'glob', 'part-2.csv'), 30);
    writeCsv(path.join(dir, 'glob', 'part-1.csv'), 20);
    writeCsv(path.join(dir, 'glob', 'sub', 'part-3.csv'), 5);
    fs.writeFileSync(path.join(dir, 'glob', 'notes.txt'), 'not data');
    const r = await run({
      source: { type: 'LOCAL', params: { path: path.join(dir, 'glob', 'part-?.csv') } },
      destination: { schema: 'raw', table: 'globbed' },
    });
    expect(r.error?.message).toBeUndefined();
    expect(r.result).toMatchObject({ rowsRead: 50, rowsLoaded: 50 });
    const opened = r.logs.filter((l) => l.message.startsWith('opened ')).map((l) => path.basename(l.message.split(' ')[1]));
    expect(opened).toEqual(['part-1.csv', 'part-2.csv']);
    const deep = await run({
      source: { type: 'LOCAL', params: { path: path.join(dir, 'glob', '**', '*.csv') } },
      destination: { schema: 'raw', table: 'globbed_deep' },
    });
    expect(deep.result?.rowsLoaded).toBe(55);
    const byDir = await run({
      source: { type: 'LOCAL', params: { path: path.join(dir, 'glob') }, filePattern: '*-2.csv' },
      destination: { schema: 'raw', table: 'globbed_dir' },
    });
    expect(byDir.result?.rowsLoaded).toBe(30);
  });

  it('fails PERMANENT for a missing file, an unmatched glob and an unsupported source', async () => {
    const missing = await run({ source: { type: 'LOCAL', params: { path: path.join(dir, 'nope.csv') } } });
    expect(missing.error?.kind).toBe('PERMANENT');
    expect(missing.error?.message).toBe(`file not found: ${path.join(dir, 'nope.csv')}`);
    const unmatched = await run({ source: { type: 'LOCAL', params: { path: path.join(dir, '*.nothing') } } });
    expect(unmatched.error?.kind).toBe('PERMANENT');
    expect(unmatched.error?.message).toMatch(/^no file matches/);
    const s3 = await run({ source: { type: 'S3', params: {} } });
    expect(s3.error?.message).toBe('source type S3 is not supported by the LOCAL executor');
    const parquet = await run({ source: { type: 'LOCAL', params: { path: path.join(dir, 'orders.csv') } }, format: 'PARQUET' });
    expect(parquet.error?.message).toBe('PARQUET is not supported by the LOCAL executor; use the SPARK backend');
    const badName = await run({
      source: { type: 'LOCAL', params: { path: path.join(dir, 'orders.csv') } },
      destination: { schema: 'raw', table: 'x; drop' },
    });
    expect(badName.error?.kind).toBe('PERMANENT');
    expect(finalStage(badName, 'extract')?.status).toBe('SKIPPED');
  });

  it('refuses to read a file outside allowedRoots, even through a link a glob matches', async () => {
    const inside = path.join(dir, 'roots-inside');
    fs.mkdirSync(inside, { recursive: true });
    writeCsv(path.join(inside, 'a.csv'), 10);
    writeCsv(path.join(dir, 'roots-outside.csv'), 10);
    const allowed = await run({
      source: { type: 'LOCAL', params: { path: path.join(inside, '*.csv') } },
      destination: { schema: 'raw', table: 'roots_ok' },
      allowedRoots: [inside],
    });
    expect(allowed.result?.rowsLoaded).toBe(10);
    fs.symlinkSync(path.join(dir, 'roots-outside.csv'), path.join(inside, 'b.csv'));
    const escaped = await run({
      source: { type: 'LOCAL', params: { path: path.join(inside, '*.csv') } },
      destination: { schema: 'raw', table: 'roots_no' },
      allowedRoots: [inside],
    });
    expect(escaped.error?.kind).toBe('PERMANENT');
    expect(escaped.error?.message).toMatch(/outside the directories LOCAL sources may read/);
  });

  it('fails PERMANENT on a header with an unterminated quote, creating no table', async () => {
    const file = path.join(dir, 'open-header.csv');
    fs.writeFileSync(file, 'id,"name,amount\n1,alpha,1.5\n2,beta,2.5\n');
    const r = await run({ source: { type: 'LOCAL', params: { path: file } }, destination: { schema: 'raw', table: 'open_header' } });
    expect(r.error?.kind).toBe('PERMANENT');
    expect(r.error?.message).toBe('CSV header has an unterminated quote (line 1)');
    expect((await pool.query(`select to_regclass('raw.open_header') as t`)).rows[0].t).toBeNull();
  });

  it('fails PERMANENT when an unterminated quote would swallow the rest of the file, loading nothing', async () => {
    const file = path.join(dir, 'open-field.csv');
    writeCsv(file, 3000, (i) =>
      i === 1200 ? '1200,2.5,"Doe, J,2024-03-01T10:00:00Z,true' : `${i},1.5,name ${i},2024-03-01T10:00:00Z,true`,
    );
    const r = await run({
      source: { type: 'LOCAL', params: { path: file } },
      destination: { schema: 'raw', table: 'open_field' },
      batchSize: 500,
    });
    expect(r.error?.kind).toBe('PERMANENT');
    expect(r.error?.message).toBe(
      'CSV record at line 1201 has an unterminated quote: its quoted field would run to the end of the input, taking in 1800 more lines',
    );
    expect((await pool.query(`select to_regclass('raw.open_field') as t`)).rows[0].t).toBeNull();
  });

  it('lets two loads into the same new table at once both succeed', async () => {
    const a = path.join(dir, 'race-a.csv');
    const b = path.join(dir, 'race-b.csv');
    writeCsv(a, 300);
    writeCsv(b, 200);
    // Several rounds: the two CREATE TABLEs must really collide at least once.
    let collisions = 0;
    for (let round = 1; round <= 10; round++) {
      const destination = { schema: `race_${round}`, table: 'orders' };
      const [ra, rb] = await Promise.all([
        run({ source: { type: 'LOCAL', params: { path: a } }, destination, batchSize: 100 }),
        run({ source: { type: 'LOCAL', params: { path: b } }, destination, batchSize: 100 }),
      ]);
      expect([ra.error?.message, rb.error?.message]).toEqual([undefined, undefined]);
      expect([ra.result?.rowsLoaded, rb.result?.rowsLoaded]).toEqual([300, 200]);
      expect(await count(`race_${round}.orders`)).toBe(500);
      if ([ra, rb].some((r) => r.logs.some((l) => l.message.includes('was being created by another load')))) collisions++;
    }
    expect(collisions).toBeGreaterThan(0);
  });

  it('fails PERMANENT on binary garbage', async () => {
    const file = path.join(dir, 'garbage.bin');
    fs.writeFileSync(file, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)));
    const r = await run({ source: { type: 'LOCAL', params: { path: file } } });
    expect(r.error?.kind).toBe('PERMANENT');
    expect(r.error?.message).toMatch(/binary/);
  });
});

describe('pacing', () => {
  it('writes no faster than maxRowsPerSecond, and still stops promptly when aborted', async () => {
    const file = path.join(dir, 'paced.csv');
    writeCsv(file, 1000);
    // 1,000 rows in batches of 100 at 2,000 rows/s: the tenth batch may start 450 ms in.
    const paced = await run({
      source: { type: 'LOCAL', params: { path: file } },
      destination: { schema: 'raw', table: 'paced' },
      batchSize: 100,
      maxRowsPerSecond: 2000,
    });
    expect(paced.result?.rowsLoaded).toBe(1000);
    expect(paced.ms).toBeGreaterThanOrEqual(400);

    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const slow = await run(
      {
        source: { type: 'LOCAL', params: { path: file } },
        destination: { schema: 'raw', table: 'paced2' },
        batchSize: 100,
        maxRowsPerSecond: 10,
      },
      ac.signal,
    );
    expect(slow.error?.kind).toBe('CANCELLED');
    expect(slow.ms).toBeLessThan(2000);
  });
});

describe('progress', () => {
  it('reports totals that never show a stage done while rows remain, as estimates until the input is read', async () => {
    const file = path.join(dir, 'progress.csv');
    writeCsv(file, 3000, (i) => (i % 100 === 0 ? `${i},oops` : undefined));
    const r = await run({
      source: { type: 'LOCAL', params: { path: file } },
      destination: { schema: 'raw', table: 'progress' },
      batchSize: 100,
      maxRowsPerSecond: 3000,
    });
    expect(r.result).toMatchObject({ rowsRead: 3000, rowsLoaded: 2970, rowsFailed: 30 });
    const running = (stage: string) => r.stages.filter((u) => u.stage === stage && u.status === 'RUNNING');
    expect(running('load').length).toBeGreaterThan(2);
    for (const u of running('extract').filter((x) => x.completedItems < 3000)) {
      expect(u.totalIsEstimate).toBe(true);
      expect(u.completedItems).toBeLessThan(u.totalItems);
    }
    for (const u of running('load').filter((x) => x.completedItems + x.failedItems < 2970)) {
      expect(u.completedItems + u.failedItems).toBeLessThan(u.totalItems);
      // The rows are alike, so the extrapolated total is close to the truth from the first piece on.
      expect(Math.abs(u.totalItems - 2970)).toBeLessThan(2970 * 0.15);
    }
    for (const stage of ['extract', 'transform', 'load']) expect(finalStage(r, stage)).toMatchObject({ totalIsEstimate: false });
    expect(finalStage(r, 'transform')).toMatchObject({ totalItems: 3000, completedItems: 2970, failedItems: 30 });
  });
});

describe('JSON', () => {
  it('loads a JSON array of objects, nested values as JSONB', async () => {
    const file = path.join(dir, 'events.json');
    const events = Array.from({ length: 300 }, (_, i) => ({
      id: i + 1,
      kind: i % 2 ? 'click' : 'view',
      at: '2024-05-01T12:00:00Z',
      meta: { n: i, tags: ['a'] },
      ok: i % 3 === 0,
    }));
    fs.writeFileSync(file, JSON.stringify(events, null, 2));
    const r = await run({
      source: { type: 'LOCAL', params: { path: file } },
      destination: { schema: 'raw', table: 'events' },
      batchSize: 100,
    });
    expect(r.result).toMatchObject({ rowsRead: 300, rowsLoaded: 300, rowsFailed: 0 });
    expect(await columnTypes('raw', 'events')).toEqual({
      id: 'bigint',
      kind: 'text',
      at: 'timestamp with time zone',
      meta: 'jsonb',
      ok: 'boolean',
    });
    const { rows } = await pool.query(`SELECT meta->>'n' AS n, meta->'tags'->>0 AS tag FROM raw.events WHERE id = 42`);
    expect(rows).toEqual([{ n: '41', tag: 'a' }]);
  });

  it('loads NDJSON, a bad line being a bad row', async () => {
    const file = path.join(dir, 'logs.ndjson');
    const lines = Array.from({ length: 200 }, (_, i) => JSON.stringify({ seq: i + 1, msg: `m${i}`, level: i % 2 ? 'info' : 'warn' }));
    lines[49] = '{"seq": 50, "msg": }';
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    const r = await run({ source: { type: 'LOCAL', params: { path: file } }, destination: { schema: 'raw', table: 'logs' } });
    expect(r.result).toMatchObject({ rowsRead: 200, rowsLoaded: 199, rowsFailed: 1 });
    expect(r.logs.find((l) => l.level === 'WARN')?.message).toMatch(
      new RegExp(`^bad row at line 50 of ${file.replace(/[.]/g, '\\.')}: invalid JSON`),
    );
    expect(await count('raw.logs')).toBe(199);
  });

  it('refuses a .json file that is not an array as PERMANENT', async () => {
    const file = path.join(dir, 'object.json');
    fs.writeFileSync(file, '{"a": 1}\n{"a": 2}\n');
    const r = await run({ source: { type: 'LOCAL', params: { path: file } } });
    expect(r.error?.kind).toBe('PERMANENT');
    expect(r.error?.message).toMatch(/not an array of objects/);
  });
});

describe('HTTP', () => {
  beforeAll(() => writeCsv(path.join(dir, 'http.csv'), 1000));

  it('streams a CSV over HTTP with headers that are never logged', async () => {
    const r = await run({
      source: { type: 'HTTP', params: { url: `${baseUrl}/auth?sig=topsecret`, headers: { Authorization: 'Bearer s3cret-token' } } },
      format: 'CSV',
      destination: { schema: 'raw', table: 'http_csv' },
    });
    expect(r.result).toMatchObject({ rowsRead: 1000, rowsLoaded: 1000 });
    const all = r.logs.map((l) => l.message).join('\n');
    expect(all).toContain(`opened ${baseUrl}/auth (`);
    expect(all).not.toMatch(/s3cret|topsecret/);
  });

  it('maps 404 to PERMANENT, 500 and refused connections to TRANSIENT', async () => {
    const notFound = await run({ source: { type: 'HTTP', params: { url: `${baseUrl}/status/404` } } });
    expect(notFound.error?.kind).toBe('PERMANENT');
    expect(notFound.error?.message).toBe(`HTTP 404 Not Found from ${baseUrl}/status/404`);
    const failing = await run({ source: { type: 'HTTP', params: { url: `${baseUrl}/status/500` } } });
    expect(failing.error?.kind).toBe('TRANSIENT');
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await run({ source: { type: 'HTTP', params: { url: `http://127.0.0.1:${port}/x.csv` } } });
    expect(refused.error?.kind).toBe('TRANSIENT');
    expect(refused.error?.message).toMatch(/ECONNREFUSED/);
    // A port fetch refuses outright can never work: no point retrying it.
    const badPort = await run({ source: { type: 'HTTP', params: { url: 'http://127.0.0.1:9/x.csv' } } });
    expect(badPort.error?.kind).toBe('PERMANENT');
    expect(badPort.error?.message).toMatch(/port/);
  });

  it('leaves nothing behind when the source breaks after several batches were written', async () => {
    // 30,000 rows in batches of 1,000, then the connection drops: the run will be retried, and
    // the retry must not find the first attempt's rows (nor its table) in the destination.
    const rows = Array.from({ length: 30_000 }, (_, i) => `${i},name ${i}`).join('\n');
    const breaking = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/csv', 'content-length': 50_000_000 });
      res.write(`id,name\n${rows}\n`, () => setTimeout(() => res.destroy(), 300));
    });
    await new Promise<void>((resolve) => breaking.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(breaking.address() as AddressInfo).port}/orders.csv`;
    try {
      const fresh = await run({
        source: { type: 'HTTP', params: { url } },
        destination: { schema: 'raw', table: 'cut_midway' },
        batchSize: 1000,
      });
      expect(fresh.error?.kind).toBe('TRANSIENT');
      expect(fresh.stages.some((u) => u.stage === 'load' && u.completedItems >= 1000)).toBe(true); // batches were written
      expect((await pool.query(`select to_regclass('raw.cut_midway') as t`)).rows[0].t).toBeNull();

      await pool.query('create schema if not exists raw');
      await pool.query('create table raw.cut_existing (id bigint, name text)');
      await pool.query(`insert into raw.cut_existing values (1, 'kept')`);
      const existing = await run({
        source: { type: 'HTTP', params: { url } },
        destination: { schema: 'raw', table: 'cut_existing' },
        batchSize: 1000,
      });
      expect(existing.error?.kind).toBe('TRANSIENT');
      expect((await pool.query('select count(*)::int as n from raw.cut_existing')).rows[0].n).toBe(1);
    } finally {
      breaking.closeAllConnections();
      await new Promise((resolve) => breaking.close(resolve));
    }
  });

  it('maps a connection lost mid-body to TRANSIENT, and aborts a stalled download promptly', async () => {
    const flaky = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/csv', 'content-length': 10_000_000 });
      res.write('id,name\n1,a\n2,b\n');
      if (req.url === '/cut') setTimeout(() => res.destroy(), 50);
      // '/stall' never sends more.
    });
    await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(flaky.address() as AddressInfo).port}`;
    try {
      const cut = await run({ source: { type: 'HTTP', params: { url: `${url}/cut` } }, destination: { schema: 'raw', table: 'cut' } });
      expect(cut.error?.kind).toBe('TRANSIENT');
      expect(cut.error?.message).toMatch(/while reading/);
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 300);
      const stalled = await run(
        { source: { type: 'HTTP', params: { url: `${url}/stall` } }, destination: { schema: 'raw', table: 'stalled' } },
        ac.signal,
      );
      expect(stalled.error?.kind).toBe('CANCELLED');
      expect(stalled.ms).toBeLessThan(1500);
    } finally {
      flaky.closeAllConnections();
      await new Promise((resolve) => flaky.close(resolve));
    }
  });
});

describe('large inputs', () => {
  it('stops within 2 s with CANCELLED when aborted mid-way', async () => {
    const file = path.join(dir, 'big.csv');
    writeCsv(file, 300_000);
    const ac = new AbortController();
    const logs: string[] = [];
    const { stats, done } = ingest(
      {
        source: { type: 'LOCAL', params: { path: file } },
        format: 'AUTO',
        destination: { schema: 'raw', table: 'aborted' },
        batchSize: 10_000,
        maxFailedRowRatio: 0.1,
      },
      makePgSink(pool),
      { signal: ac.signal, onStage: () => undefined, onLog: (_l, m) => logs.push(m) },
    );
    const outcome = done.then(
      () => null,
      (err: unknown) => err,
    );
    while (stats.rowsRead < 30_000 && (await Promise.race([outcome, new Promise((r) => setTimeout(() => r('wait'), 5))])) === 'wait');
    const abortedAt = Date.now();
    ac.abort();
    const err = await outcome;
    expect(err).toBeInstanceOf(IngestError);
    expect((err as IngestError).kind).toBe('CANCELLED');
    expect(Date.now() - abortedAt).toBeLessThan(2000);
    expect(stats.rowsRead).toBeLessThan(300_000);
  });

  it('stops promptly when aborted while a COPY waits on a lock', async () => {
    await pool.query(
      'CREATE TABLE raw.locked (id bigint, amount double precision, customer_name text, created_at timestamptz, active boolean)',
    );
    const file = path.join(dir, 'locked.csv');
    writeCsv(file, 100);
    const locker = await pool.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE raw.locked IN ACCESS EXCLUSIVE MODE');
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 500);
      const r = await run(
        { source: { type: 'LOCAL', params: { path: file } }, destination: { schema: 'raw', table: 'locked' } },
        ac.signal,
      );
      expect(r.error?.kind).toBe('CANCELLED');
      expect(r.ms).toBeLessThan(2000);
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }
  });

  it('streams a ~50 MB file with bounded memory', async () => {
    const file = path.join(dir, 'fifty.csv');
    writeCsv(file, 900_000);
    const size = fs.statSync(file).size;
    expect(size).toBeGreaterThan(45e6);
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const r = await run({ source: { type: 'LOCAL', params: { path: file } }, destination: { schema: 'raw', table: 'fifty' } });
    clearInterval(timer);
    expect(r.result?.rowsLoaded).toBe(900_000);
    // Loose on purpose (jest, the pg driver and V8's young generation allocate too, ~100 MB whatever
    // the file size); holding the file's 900k rows as JS values would take several times this.
    expect(peak - before).toBeLessThan(200e6);
  }, 120_000);
});

describe('PGlite sink', () => {
  it('loads through COPY FROM /dev/blob, isolating rows the database refuses', async () => {
    const db = new PGlite();
    try {
      await db.query('CREATE SCHEMA raw');
      await db.query('CREATE TABLE raw.refs (id bigint, ref uuid)');
      const file = path.join(dir, 'refs.csv');
      const lines = ['id,ref'];
      for (let i = 1; i <= 500; i++) lines.push(`${i},${i === 250 ? 'nope' : `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`}`);
      fs.writeFileSync(file, `${lines.join('\n')}\n`);
      const logs: string[] = [];
      const { done } = ingest(
        {
          source: { type: 'LOCAL', params: { path: file } },
          format: 'AUTO',
          destination: { schema: 'raw', table: 'refs' },
          batchSize: 100,
          maxFailedRowRatio: 0.1,
        },
        makePgliteSink(db),
        { signal: new AbortController().signal, onStage: () => undefined, onLog: (level, m) => level === 'WARN' && logs.push(m) },
      );
      expect(await done).toMatchObject({ rowsRead: 500, rowsLoaded: 499, rowsFailed: 1 });
      expect(logs).toEqual([
        expect.stringMatching(/^bad row at line 251 of .*refs\.csv: rejected by the database: invalid input syntax for type uuid/),
      ]);
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM raw.refs')).rows[0].n).toBe(499);
    } finally {
      await db.close();
    }
  });
  it('hands PGlite a big batch in COPYs of about 64 KiB, so that no statement holds the shared database long', async () => {
    const db = new PGlite();
    try {
      const file = path.join(dir, 'pglite-big.csv');
      writeCsv(file, 20_000);
      const copies: number[] = [];
      const query = db.query.bind(db);
      db.query = ((sql: string, params?: unknown[], opts?: { blob?: Blob }) => {
        if (sql.startsWith('COPY')) copies.push(opts?.blob?.size ?? 0);
        return query(sql, params, opts);
      }) as typeof db.query;
      const { done } = ingest(
        {
          source: { type: 'LOCAL', params: { path: file } },
          format: 'AUTO',
          destination: { schema: 'raw', table: 'big' },
          batchSize: 10_000,
          maxFailedRowRatio: 0.1,
        },
        makePgliteSink(db),
        { signal: new AbortController().signal, onStage: () => undefined, onLog: () => undefined },
      );
      expect(await done).toMatchObject({ rowsLoaded: 20_000 });
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM raw.big')).rows[0].n).toBe(20_000);
      expect(copies.length).toBeGreaterThan(10);
      // A piece is cut after the row that reaches the limit: at most one row over it.
      expect(Math.max(...copies)).toBeLessThanOrEqual(64 * 1024 + 100);
    } finally {
      await db.close();
    }
  });

  it('never writes inside a transaction another user of the same PGlite has open (both through the session gate)', async () => {
    const real = new PGlite();
    const gate = new PgliteGate(real);
    // The ORM's view of the session, and the sink's: each its own facade of the one gate.
    const db = gate.facade();
    try {
      await db.query('CREATE TABLE other (n int)');
      const file = path.join(dir, 'pglite-shared.csv');
      writeCsv(file, 3000);
      let finished = false;
      let transactions = 0;
      // Another user of the one session (the ORM, in the gateway): short transactions, each rolled
      // back, with JavaScript work in between their statements and idle gaps between them.
      const other = (async () => {
        while (!finished) {
          await db.query('BEGIN');
          await db.query('INSERT INTO other VALUES (1)');
          await new Promise((r) => setImmediate(r));
          await db.query('ROLLBACK');
          transactions++;
          await new Promise((r) => setTimeout(r, 2));
        }
      })();
      const { done } = ingest(
        {
          source: { type: 'LOCAL', params: { path: file } },
          format: 'AUTO',
          destination: { schema: 'raw', table: 'shared' },
          batchSize: 100,
          maxFailedRowRatio: 0.1,
        },
        makePgliteSink(gate.facade()),
        { signal: new AbortController().signal, onStage: () => undefined, onLog: () => undefined },
      );
      const result = await done.finally(() => (finished = true));
      await other;
      expect(result.rowsLoaded).toBe(3000);
      // Rows written inside the other user's transactions would have been rolled back with them.
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM raw.shared')).rows[0].n).toBe(3000);
      expect(transactions).toBeGreaterThan(10);
    } finally {
      await real.close();
    }
  });
});

describe('the PostgreSQL sink', () => {
  it('leaves no listener behind on the pooled connections it borrows, load after load (committed or failed)', async () => {
    const small = new Pool({ connectionString: testDb.url, max: 1 });
    try {
      const file = path.join(dir, 'listeners.csv');
      writeCsv(file, 50);
      for (let i = 0; i < 12; i++) {
        const { done } = ingest(
          {
            format: 'AUTO',
            source: { type: 'LOCAL', params: { path: file } },
            destination: { schema: 'raw', table: `listeners_${i % 2}` },
            batchSize: 10,
            maxFailedRowRatio: 0.1,
          },
          makePgSink(small),
          { signal: new AbortController().signal, onStage: () => undefined, onLog: () => undefined },
        );
        await done;
      }
      // The one connection of the pool, as the next borrower gets it: no listener of the 12 loads left on it.
      const client = await small.connect();
      try {
        expect(client.listenerCount('error')).toBe(0);
      } finally {
        client.release();
      }
    } finally {
      await small.end();
    }
  });
});
