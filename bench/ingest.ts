/**
 * Ingestion benchmark: the LOCAL executor's `ingest()` (makePgSink) against `psql \copy` of the same
 * 1,000,000-row CSV into the same PostgreSQL. Goal: ingest speed >= 0.5 x COPY speed.
 *
 *   npx ts-node --transpile-only bench/ingest.ts
 *
 * Environment:
 *   DATABASE_URL      admin connection (default postgres://postgres@127.0.0.1:5432/postgres); a
 *                     database jobwire_bench_<pid> is created on that server and dropped at the end
 *   BENCH_ROWS        rows of the generated CSV (default 1000000); cached in bench/data/ (git-ignored)
 *   BENCH_ROUNDS      alternating psql/ingest rounds (default 3); best and median are reported
 *   BENCH_BATCH_SIZE  ingest batch size (default 10000, the processing.batchSize default)
 *
 * Rounds alternate psql and ingest (after a CHECKPOINT each) so that both see the same machine load.
 * The psql time is the wall time of the psql process (connection included); the ingest time runs
 * from the ingest() call to its result (pool connection included), in this process.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { Client, Pool } from 'pg';
import { ingest, makePgSink } from '../src/backends/local/ingest';

const ADMIN_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const ROWS = Number(process.env.BENCH_ROWS || 1_000_000);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS || 3));
const BATCH_SIZE = Number(process.env.BENCH_BATCH_SIZE || 10_000);
const DATA_DIR = path.join(__dirname, 'data');
const COLUMNS =
  'id BIGINT, user_id BIGINT, quantity BIGINT, amount DOUBLE PRECISION, score DOUBLE PRECISION, name TEXT, created_at TIMESTAMPTZ, active BOOLEAN';

function dbUrl(name: string): string {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

// Deterministic data: ints, floats, text (every 10th value quoted with a comma), ISO timestamps, booleans.
async function generate(file: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  const out = createWriteStream(tmp);
  out.write('id,user_id,quantity,amount,score,name,created_at,active\n');
  const base = Date.UTC(2024, 0, 1);
  let buf = '';
  for (let i = 1; i <= ROWS; i++) {
    const ts = new Date(base + i * 37_000).toISOString();
    const name = i % 10 === 0 ? `"customer ${i % 5000}, vip"` : `customer ${i % 5000}`;
    buf += `${i},${(i * 7919) % 100_000},${i % 97},${((i * 37) % 100_000) / 100},${Math.sin(i).toFixed(6)},${name},${ts},${i % 3 === 0}\n`;
    if (buf.length > 1 << 16) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
  renameSync(tmp, file);
}

/** Times one ingest of `file` into a new table `bench_ingest`; returns milliseconds. */
async function timeIngest(url: string, file: string): Promise<{ ms: number; rows: number }> {
  const pool = new Pool({ connectionString: url, max: 2 });
  try {
    const started = process.hrtime.bigint();
    const { done } = ingest(
      {
        source: { type: 'LOCAL', params: { path: file } },
        format: 'AUTO',
        destination: { schema: 'public', table: 'bench_ingest' },
        batchSize: BATCH_SIZE,
        maxFailedRowRatio: 0.1,
      },
      makePgSink(pool),
      { signal: new AbortController().signal, onStage: () => undefined, onLog: (level, msg) => level === 'ERROR' && console.error(msg) },
    );
    const result = await done;
    return { ms: Number(process.hrtime.bigint() - started) / 1e6, rows: result.rowsLoaded };
  } finally {
    await pool.end();
  }
}

function timePsql(url: string, file: string): number {
  const started = process.hrtime.bigint();
  const res = spawnSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-qc', `\\copy bench_copy FROM '${file}' CSV HEADER`], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`psql failed: ${res.stderr}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

async function main(): Promise<void> {
  mkdirSync(DATA_DIR, { recursive: true });
  const file = path.join(DATA_DIR, `bench-${ROWS}.csv`);
  if (!existsSync(file)) {
    console.log(`generating ${file} ...`);
    await generate(file);
  }
  const mb = statSync(file).size / 1e6;
  const dbName = `jobwire_bench_${process.pid}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = dbUrl(dbName);
  try {
    const db = new Client({ connectionString: url });
    await db.connect();
    await db.query(`CREATE TABLE bench_copy (${COLUMNS})`);
    const copyMs: number[] = [];
    const ingestMs: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      await db.query('TRUNCATE bench_copy');
      await db.query('CHECKPOINT').catch(() => undefined);
      copyMs.push(timePsql(url, file));
      await db.query('DROP TABLE IF EXISTS bench_ingest');
      await db.query('CHECKPOINT').catch(() => undefined);
      const r = await timeIngest(url, file);
      if (r.rows !== ROWS) throw new Error(`ingest loaded ${r.rows} rows, expected ${ROWS}`);
      ingestMs.push(r.ms);
      console.log(`round ${round}: psql \\copy ${copyMs[round - 1].toFixed(0)} ms, ingest ${r.ms.toFixed(0)} ms`);
    }
    const copied = Number((await db.query('SELECT count(*) AS n FROM bench_copy')).rows[0].n);
    const loaded = Number((await db.query('SELECT count(*) AS n FROM bench_ingest')).rows[0].n);
    await db.end();
    if (copied !== ROWS || loaded !== ROWS) throw new Error(`row counts differ: copy ${copied}, ingest ${loaded}, expected ${ROWS}`);
    const line = (label: string, ms: number) =>
      `${label.padEnd(16)} ${(ms / 1000).toFixed(2).padStart(6)} s  ${Math.round(ROWS / (ms / 1000))
        .toLocaleString('en-US')
        .padStart(10)} rows/s`;
    const bestRatio = Math.min(...copyMs) / Math.min(...ingestMs);
    const medianRatio = median(copyMs) / median(ingestMs);
    console.log(`\n${ROWS.toLocaleString('en-US')} rows, ${mb.toFixed(1)} MB, batchSize ${BATCH_SIZE}, ${ROUNDS} rounds`);
    console.log(line('psql \\copy best', Math.min(...copyMs)));
    console.log(line('ingest best', Math.min(...ingestMs)));
    console.log(line('psql \\copy median', median(copyMs)));
    console.log(line('ingest median', median(ingestMs)));
    console.log(
      `ratio (ingest speed / COPY speed): best ${bestRatio.toFixed(2)}, median ${medianRatio.toFixed(2)}  goal >= 0.5  ${bestRatio >= 0.5 ? 'OK' : 'NOT MET'}`,
    );
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
