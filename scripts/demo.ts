/**
 * `npm run demo`: the seed story, end to end, through the real API.
 *
 * Starts a gateway (embedded PGlite in a throw-away directory under the OS temp dir, so it never
 * collides with a running `npm start`; or `DATABASE_URL` / `REDIS_URL` when set) on `PORT`, or on a
 * free port when `PORT` is unset (never the gateway's default 4000, which `npm start` may hold),
 * creates three LOCAL jobs over GraphQL HTTP — clean rows, a file with a few per cent of bad rows,
 * a missing file — starts them, follows them live over a graphql-ws `runUpdated` subscription, and
 * prints a report. Exits 0 when the outcomes are the expected ones (SUCCEEDED; SUCCEEDED with failed
 * rows counted; FAILED PERMANENT without retry), 1 otherwise, saying what differed.
 *
 * Options (env): `PORT` (default: a free port), `DEMO_ROWS` (default 20000), `DEMO_TIMEOUT_MS`
 * (default 60000), `LOG_LEVEL` (default `warn` here, so the report is readable). The app is always
 * stopped and the temp dir removed. Against PostgreSQL the jobs and destination tables are kept
 * (schema `demo_<random>`) for inspection.
 */
import 'reflect-metadata';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { createApp, type App } from '../src/app';
import { loadConfig, type LogLevelName } from '../src/config';
import { coerceError } from '../src/errors';

const ROWS = Math.max(1000, Number(process.env.DEMO_ROWS) || 20_000);
const TIMEOUT_MS = Number(process.env.DEMO_TIMEOUT_MS) || 60_000;
/**
 * One bad row every BAD_EVERY rows (4 %), only after the first BAD_FROM rows: column types are
 * inferred from the first batch, which must be clean for "abc" to count as a bad number.
 */
const BAD_FROM = Math.min(5_000, Math.floor(ROWS / 2));
const BAD_EVERY = 25;
const BATCH_SIZE = Math.min(2_000, BAD_FROM);

interface RunState {
  id: string;
  number: number;
  attempt: number;
  status: string;
  progress: number;
  deadLettered: boolean;
  error: { kind: string; message: string } | null;
}
interface Scenario {
  key: string;
  name: string;
  file: string;
  table: string;
  expectRows: number;
  expectBad: number;
  jobId?: string;
  runId?: string;
  /** Last state seen on the subscription. */
  live?: RunState;
}

// ---------- the sample data ----------

const CUSTOMERS = ['acme', 'globex', 'initech', 'hooli', 'umbrella', 'stark', 'wayne', 'tyrell'];
const COUNTRIES = ['DE', 'FR', 'IN', 'US', 'BR', 'JP', 'GB', 'NL'];

/** Writes an orders CSV of `rows` data rows; with `messy`, some rows are broken. Returns the number of bad rows. */
function writeOrders(file: string, rows: number, messy: boolean): number {
  const lines = ['order_id,customer,country,amount,quantity,ordered_at,paid'];
  let bad = 0;
  const t0 = Date.UTC(2026, 0, 1);
  for (let i = 1; i <= rows; i++) {
    const f = [
      String(i),
      CUSTOMERS[i % CUSTOMERS.length],
      COUNTRIES[(i * 7) % COUNTRIES.length],
      (((i * 37) % 100_000) / 100).toFixed(2),
      String(1 + (i % 9)),
      new Date(t0 + i * 61_000).toISOString(),
      i % 5 === 0 ? 'false' : 'true',
    ];
    if (messy && i > BAD_FROM && i % BAD_EVERY === 0) {
      bad++;
      // Four kinds of damage, in turn: a missing column, an extra column, text in amount, text in quantity.
      switch ((i / BAD_EVERY) % 4) {
        case 0:
          f.pop();
          break;
        case 1:
          f.push('surplus');
          break;
        case 2:
          f[3] = 'abc';
          break;
        default:
          f[4] = 'abc';
      }
    }
    lines.push(f.join(','));
  }
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return bad;
}

// ---------- the API, as a client sees it ----------

async function gql<T>(app: App, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json().catch(() => ({}))) as { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
  if (body.errors?.length) {
    throw new Error(body.errors.map((e) => `${e.extensions?.code ?? 'ERROR'}: ${e.message}`).join('; '));
  }
  if (!res.ok || !body.data) throw new Error(`POST /graphql answered HTTP ${res.status}`);
  return body.data;
}

const CREATE_JOB = `mutation CreateJob($input: CreateJobInput!) { createJob(input: $input) { id name } }`;
const START_JOB = `mutation StartJob($id: ID!) { startJob(id: $id) { id number status } }`;
const RUN_UPDATED = `subscription Follow($jobId: ID!) {
  runUpdated(jobId: $jobId) { id number attempt status progress deadLettered error { kind message } }
}`;
const RUN_REPORT = `query Report($id: ID!) {
  run(id: $id) {
    number status attempt deadLettered startedAt finishedAt
    job { name destination { schema table } }
    error { kind message }
    attempts { attempt status error { kind message } }
    stages { name status completedItems failedItems totalItems }
    metrics { recordsProcessed recordsFailed throughputRps }
    logs(minLevel: WARN, first: 3) { edges { node { level message } } }
  }
}`;
interface ReportRun {
  number: number;
  status: string;
  attempt: number;
  deadLettered: boolean;
  startedAt: string | null;
  finishedAt: string | null;
  job: { name: string; destination: { schema: string; table: string } };
  error: { kind: string; message: string } | null;
  attempts: { attempt: number; status: string; error: { kind: string; message: string } | null }[];
  stages: { name: string; status: string; completedItems: number; failedItems: number; totalItems: number }[];
  metrics: { recordsProcessed: number; recordsFailed: number; throughputRps: number } | null;
  logs: { edges: { node: { level: string; message: string } }[] };
}

/** A run is settled when nothing more will happen to it without a person: done, or failed with no retry coming. */
const settled = (r: RunState) =>
  r.status === 'SUCCEEDED' || r.status === 'CANCELLED' || (r.status === 'FAILED' && (r.error?.kind === 'PERMANENT' || r.deadLettered));

/** `select count(*)` of a destination table through the app's own database handle; null when the table does not exist. */
async function countRows(app: App, schema: string, table: string): Promise<number | null> {
  const qualified = `"${schema.replace(/"/g, '""')}"."${table.replace(/"/g, '""')}"`;
  const query = async (sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> => {
    if (app.db.kind === 'pglite') return (await app.db.pglite!.query<Record<string, unknown>>(sql, params)).rows;
    return (await app.db.pool!.query(sql, params)).rows;
  };
  const [exists] = await query('select to_regclass($1) is not null as present', [qualified]);
  if (!exists?.present) return null;
  const [row] = await query(`select count(*)::int as n from ${qualified}`);
  return Number(row.n);
}

// ---------- printing ----------

/** Live lines are timed from the moment the jobs are started. */
let t0 = Date.now();
const clock = () => `+${((Date.now() - t0) / 1000).toFixed(2).padStart(5)}s`;
const fmt = (n: number | null | undefined) => (n == null ? '—' : Math.round(n).toLocaleString('en-US'));

function printRun(s: Scenario, r: ReportRun, rows: number | null) {
  const w = 18;
  const line = (label: string, value: string) => console.log(`  ${label.padEnd(w)}${value}`);
  console.log(`\n■ ${r.job.name}`);
  line('run', `#${r.number}   status ${r.status}${r.deadLettered ? ' (dead-lettered)' : ''}   attempt ${r.attempt}`);
  if (r.startedAt && r.finishedAt) line('took', `${((Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000).toFixed(2)} s`);
  for (const a of r.attempts) {
    line(
      a === r.attempts[0] ? 'attempts' : '',
      `#${a.attempt} ${a.status.padEnd(10)}${a.error ? `${a.error.kind}: ${a.error.message}` : ''}`.trimEnd(),
    );
  }
  if (r.stages.length === 0) line('stages', '(none)');
  for (const st of r.stages) {
    line(
      st === r.stages[0] ? 'stages' : '',
      `${st.name.padEnd(10)} ${st.status.padEnd(10)} ${fmt(st.completedItems).padStart(7)} done  ${fmt(st.failedItems).padStart(5)} failed  of ${fmt(st.totalItems)}`,
    );
  }
  line(
    'rows',
    `processed ${fmt(r.metrics?.recordsProcessed)}   failed ${fmt(r.metrics?.recordsFailed)}${s.expectBad ? ` (file has ${fmt(s.expectBad)} bad rows)` : ''}`,
  );
  line('table', `${r.job.destination.schema}.${r.job.destination.table}: ${rows === null ? 'does not exist' : `${fmt(rows)} rows`}`);
  for (const { node } of r.logs.edges) line(node === r.logs.edges[0].node ? 'warnings' : '', `${node.level} ${node.message}`);
}

/** What differs from the expected outcome of a scenario (empty when all is as expected). */
function check(s: Scenario, r: ReportRun, rows: number | null): string[] {
  const out: string[] = [];
  const failed = r.metrics?.recordsFailed ?? 0;
  if (!s.live || !settled(s.live)) out.push(`the subscription never delivered a final status (last seen: ${s.live?.status ?? 'nothing'})`);
  if (s.key === 'missing') {
    if (r.status !== 'FAILED' || r.error?.kind !== 'PERMANENT')
      out.push(`expected FAILED PERMANENT, got ${r.status} ${r.error?.kind ?? ''}`.trim());
    if (r.attempts.length !== 1) out.push(`expected exactly 1 attempt (no retry of a PERMANENT failure), got ${r.attempts.length}`);
    if (rows) out.push(`expected no rows loaded, found ${rows}`);
    return out;
  }
  if (r.status !== 'SUCCEEDED') out.push(`expected SUCCEEDED, got ${r.status}${r.error ? ` (${r.error.kind}: ${r.error.message})` : ''}`);
  if (s.expectBad === 0 && failed !== 0) out.push(`expected no failed rows, got ${failed}`);
  if (s.expectBad > 0 && !(failed > 0)) out.push('expected failed rows > 0 in the metrics, got 0');
  if (s.expectBad > 0 && failed > 0 && failed !== s.expectBad) out.push(`metrics count ${failed} failed rows; the file has ${s.expectBad}`);
  if (rows !== s.expectRows) out.push(`expected ${s.expectRows} rows in ${s.table}, found ${rows ?? 'no table'}`);
  return out;
}

// ---------- the story ----------

/** Creates the three jobs through `createJob` over HTTP. */
async function createJobs(app: App, scenarios: Scenario[], nameSuffix: string) {
  for (const s of scenarios) {
    const [schema, table] = s.table.split('.');
    const { createJob } = await gql<{ createJob: { id: string } }>(app, CREATE_JOB, {
      input: {
        name: `${s.name}${nameSuffix}`,
        tags: ['demo'],
        backend: 'LOCAL',
        source: { type: 'LOCAL', params: { path: s.file } },
        destination: { schema, table },
        processing: { format: 'CSV', batchSize: BATCH_SIZE },
      },
    });
    s.jobId = createJob.id;
  }
}

/**
 * Subscribes to `runUpdated(jobId)` of every job, starts them all with `startJob`, prints each
 * status change as it arrives, and resolves once every run is settled (or TIMEOUT_MS passed).
 * Returns the subscription errors, if any.
 */
async function startAndFollow(app: App, ws: Client, scenarios: Scenario[]): Promise<string[]> {
  let wake: () => void = () => undefined;
  const errors: string[] = [];
  for (const s of scenarios) {
    ws.subscribe<{ runUpdated: RunState }>(
      { query: RUN_UPDATED, variables: { jobId: s.jobId } },
      {
        next: ({ data, errors: errs }) => {
          if (errs?.length) errors.push(`${s.name}: ${errs.map((e) => e.message).join('; ')}`);
          const r = data?.runUpdated;
          if (!r) return;
          const prev = s.live;
          s.live = r;
          if (prev && prev.status === r.status && prev.attempt === r.attempt) return;
          const why = r.error && r.status === 'FAILED' ? `  ${r.error.kind}: ${r.error.message}${settled(r) ? '' : ' — will retry'}` : '';
          console.log(`  ${clock()}  ${s.name.padEnd(28)} run #${r.number} attempt ${r.attempt}  ${r.status}${why}`);
          wake();
        },
        error: (err) => errors.push(`${s.name}: ${coerceError(err).message}`),
        complete: () => undefined,
      },
    );
  }
  // Subscribed first, started after: nothing to miss. (Each subscription's first message is a
  // snapshot anyway, so even a run that moved before its subscription was in place would show.)
  await new Promise((r) => setTimeout(r, 300));
  t0 = Date.now();
  for (const s of scenarios) {
    const { startJob } = await gql<{ startJob: { id: string } }>(app, START_JOB, { id: s.jobId });
    s.runId = startJob.id;
  }
  const deadline = Date.now() + TIMEOUT_MS;
  while (!scenarios.every((s) => s.live !== undefined && s.live.id === s.runId && settled(s.live)) && Date.now() < deadline) {
    await new Promise<void>((resolve) => {
      wake = resolve;
      setTimeout(resolve, 1000);
    });
  }
  if (Date.now() >= deadline) console.log(`  ${clock()}  gave up waiting after ${TIMEOUT_MS / 1000} s`);
  return errors;
}

/** Reads each run back with the `run` query, prints it, and returns what differs from the expected outcomes. */
async function report(app: App, scenarios: Scenario[]): Promise<string[]> {
  const problems: string[] = [];
  for (const s of scenarios) {
    const { run } = await gql<{ run: ReportRun | null }>(app, RUN_REPORT, { id: s.runId });
    if (!run) {
      problems.push(`${s.name}: run ${s.runId} not found`);
      continue;
    }
    const rows = await countRows(app, run.job.destination.schema, run.job.destination.table);
    printRun(s, run, rows);
    problems.push(...check(s, run, rows).map((p) => `${s.name}: ${p}`));
  }
  return problems;
}

async function main(): Promise<number> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-demo-'));
  const suffix = crypto.randomBytes(3).toString('hex');
  let app: App | undefined;
  let ws: Client | undefined;
  const removeTmp = () => {
    try {
      fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    } catch (err) {
      console.error(`could not remove ${tmp}: ${coerceError(err).message}`);
    }
  };
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      await ws?.dispose();
      await app?.stop().catch((err) => console.error('stopping the app failed:', coerceError(err).message));
      removeTmp();
    })());
  // Ctrl-C still stops the app and removes the temp dir. Later signals are ignored: Apollo Server
  // re-sends SIGINT to the process after stopping itself, which would otherwise kill the cleanup.
  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) return;
    interrupted = true;
    console.log('\ninterrupted: stopping the app and removing the temp dir');
    // A stop that hangs must not leave the temp dir behind.
    const force = setTimeout(() => {
      console.error('the app did not stop within 10 s; exiting anyway');
      removeTmp();
      process.exit(130);
    }, 10_000);
    void cleanup().finally(() => {
      clearTimeout(force);
      process.exit(130);
    });
  });

  try {
    const config = loadConfig(process.env, {
      // loadConfig's overrides win over the environment: ask for a free port only when PORT is unset.
      ...(process.env.PORT ? {} : { port: 0 }),
      host: '127.0.0.1',
      dataDir: path.join(tmp, 'data'),
      redisPrefix: `jobwire:demo:${suffix}:`,
      retryBaseDelayMs: 500,
      seedDemo: false,
      workers: true,
      migrate: true,
      logLevel: (process.env.LOG_LEVEL?.toLowerCase() as LogLevelName | undefined) ?? 'warn',
    });
    // On a shared PostgreSQL, a schema and job names of its own per demo keep repeated runs apart.
    const schema = config.databaseUrl ? `demo_${suffix}` : 'demo';
    // The gateway's data folder: where LOCAL sources may read by default (LOCAL_SOURCE_ROOTS).
    const inputs = path.join(config.dataDir, 'data');
    fs.mkdirSync(inputs, { recursive: true });
    const cleanFile = path.join(inputs, 'orders-clean.csv');
    const messyFile = path.join(inputs, 'orders-messy.csv');
    writeOrders(cleanFile, ROWS, false);
    const bad = writeOrders(messyFile, ROWS, true);
    const scenarios: Scenario[] = [
      { key: 'clean', name: 'demo: clean orders', file: cleanFile, table: `${schema}.orders_clean`, expectRows: ROWS, expectBad: 0 },
      {
        key: 'messy',
        name: 'demo: orders with bad rows',
        file: messyFile,
        table: `${schema}.orders_messy`,
        expectRows: ROWS - bad,
        expectBad: bad,
      },
      {
        key: 'missing',
        name: 'demo: missing file',
        file: path.join(inputs, 'no-such-file.csv'),
        table: `${schema}.orders_missing`,
        expectRows: 0,
        expectBad: 0,
      },
    ];
    console.log(
      `jobwire demo — ${fmt(ROWS)} rows per file, ${fmt(bad)} of them bad in the messy one (${((bad / ROWS) * 100).toFixed(1)} %)`,
    );
    console.log(`  temp dir ${tmp}`);

    const started = Date.now();
    app = await createApp(config);
    const where = `database ${app.db.kind === 'pglite' ? 'embedded PGlite' : 'PostgreSQL'}   bus ${config.redisUrl ? 'Redis' : 'in-process'}`;
    console.log(`  gateway  ${app.url}/graphql   ${where}   (ready in ${((Date.now() - started) / 1000).toFixed(1)} s)`);

    await createJobs(app, scenarios, config.databaseUrl ? ` (${suffix})` : '');
    ws = createClient({ url: `${app.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false });
    console.log(`\nlive (runUpdated subscription; at most ${config.localConcurrency} LOCAL runs execute at once, the others wait QUEUED):`);
    const subErrors = await startAndFollow(app, ws, scenarios);

    console.log('\nreport:');
    const problems = [...subErrors.map((e) => `subscription error: ${e}`), ...(await report(app, scenarios))];
    console.log('');
    if (problems.length) {
      console.log('✗ the demo did not go as expected:');
      for (const p of problems) console.log(`  - ${p}`);
      return 1;
    }
    console.log(
      '✓ as expected: clean file SUCCEEDED; bad rows counted and skipped, run SUCCEEDED; missing file FAILED PERMANENT with no retry.',
    );
    if (config.databaseUrl) console.log(`  (jobs and tables kept in PostgreSQL: schema ${schema})`);
    return 0;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error('demo failed:', coerceError(err).stack ?? coerceError(err).message);
    process.exit(1);
  },
);
