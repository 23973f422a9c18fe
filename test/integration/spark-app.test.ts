/**
 * jobwire's Spark application (spark/: IngestApp and JobwireListener) on the real cluster that
 * `npm run services:up` starts, submitted over the REST API in cluster mode as the gateway submits
 * it, loading into a database of its own, with the listener reporting to a Kafka topic of its own.
 * The Spark jobs of this file run one after the other (the test cluster runs one driver at a time);
 * each takes 20–60 s on this machine, so the timeouts are generous and every wait polls a condition.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Consumer } from 'kafkajs';
import { Client } from 'pg';
import { parseRunEvent, type AnyRunEvent } from '../../src/events/run-event.schema';
import { createTestDatabase } from '../helpers/db';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';
import { createTestTopics, KAFKA_BROKERS, requireKafka, testKafka, type TestTopics } from '../helpers/kafka';
import {
  driverLog,
  driverStatus,
  FINAL_DRIVER_STATES,
  jobwireLines,
  killDriver,
  requireSpark,
  sparkAppJar,
  submit,
  waitForDriver,
} from '../helpers/spark';

const JOB_TIMEOUT = 300_000;
const ROWS = 200_000;
/** Lines of the big CSV that have too many or too few fields: counted as bad, never loaded. */
const BAD_LINES = [17, 40_001, 99_999, 150_000, 199_998];

const disposables = new Disposables();
let topics: TestTopics;
let consumer: Consumer;
const events: AnyRunEvent[] = [];
const invalidEvents: string[] = [];
let db: Client;
/** The destination with a password that the (trust-authenticated) server ignores, and that must never be printed. */
let destUrl: string;
const password = `pw-${crypto.randomBytes(6).toString('hex')}`;
let dir: string;
let bigCsv: string;
const submitted: string[] = [];

function writeCsv(name: string, rows: number, bad: (line: number) => boolean): string {
  const file = path.join(dir, name);
  const lines: string[] = ['Order ID,Customer Name,Amount,Ordered On'];
  for (let i = 1; i <= rows; i++) {
    if (bad(i)) lines.push(i % 2 ? `${i},broken line` : `${i},too,many,fields,here,${i}`);
    else lines.push(`${i},customer ${i % 977},${(i * 0.25).toFixed(2)},2026-11-${String((i % 28) + 1).padStart(2, '0')}`);
  }
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

interface Spec {
  runId: string;
  attempt: number;
  table: string;
  path: string;
  maxFailedRowRatio?: number;
  batchSize?: number;
}

function specOf(s: Spec): string {
  const doc = {
    runId: s.runId,
    attempt: s.attempt,
    jobId: crypto.randomUUID(),
    source: {
      type: 'LOCAL',
      format: 'AUTO',
      params: { path: s.path, delimiter: ',', header: true },
      filePattern: null,
      schemaInference: true,
    },
    destination: { url: destUrl, schema: 'public', table: s.table },
    processing: { batchSize: s.batchSize ?? 1000, maxFailedRowRatio: s.maxFailedRowRatio ?? 0.1 },
  };
  return Buffer.from(JSON.stringify(doc), 'utf8').toString('base64');
}

/** Submits IngestApp for one attempt of a run, with the listener reporting to this file's topic. */
async function submitIngest(s: Spec, extra: Record<string, string> = {}): Promise<string> {
  const id = await submit({
    mainClass: 'dev.jobwire.spark.IngestApp',
    appName: `jobwire-test-${s.runId}-${s.attempt}`,
    environmentVariables: { JOBWIRE_SPEC: specOf(s) },
    sparkProperties: {
      'spark.extraListeners': 'dev.jobwire.spark.JobwireListener',
      'spark.jobwire.kafka.brokers': KAFKA_BROKERS.join(','),
      'spark.jobwire.kafka.topic': topics.name('run-events'),
      'spark.jobwire.runId': s.runId,
      'spark.jobwire.attempt': String(s.attempt),
      'spark.jobwire.heartbeatMs': '2000',
      // Several input partitions, so stage progress has more than one task to count.
      'spark.sql.files.maxPartitionBytes': '1m',
      ...extra,
    },
  });
  submitted.push(id);
  return id;
}

function eventsOf(runId: string, attempt?: number): AnyRunEvent[] {
  return events.filter((e) => e.runId === runId && (attempt === undefined || e.attempt === attempt));
}

async function count(table: string): Promise<number | null> {
  const exists = await db.query(`select to_regclass($1) as t`, [`public."${table}"`]);
  if (!exists.rows[0].t) return null;
  const r = await db.query(`select count(*)::int as n from public."${table}"`);
  return r.rows[0].n;
}

async function stagingTables(): Promise<string[]> {
  const r = await db.query(`select tablename from pg_tables where schemaname = 'public' and tablename like '%\\_\\_jw\\_%'`);
  return r.rows.map((x) => x.tablename);
}

beforeAll(async () => {
  await Promise.all([requireSpark(), requireKafka()]);
  sparkAppJar();
  const database = await createTestDatabase('sparkapp');
  disposables.defer(() => database.drop());
  const u = new URL(database.url);
  u.password = password;
  destUrl = u.toString();
  db = disposables.add(new Client({ connectionString: database.url }), (c) => c.end());
  await db.connect();

  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-spark-app-'));
  disposables.defer(() => fs.rmSync(dir, { recursive: true, force: true }));
  bigCsv = writeCsv('orders.csv', ROWS, (i) => BAD_LINES.includes(i));

  const kafka = testKafka('spark-app-test');
  topics = await createTestTopics(path.basename(__filename), ['run-events'], { kafka, disposables });
  consumer = disposables.add(kafka.consumer({ groupId: topics.groupId('collector'), maxWaitTimeInMs: 200 }), (c) => c.disconnect());
  await consumer.connect();
  await consumer.subscribe({ topic: topics.name('run-events'), fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const text = message.value!.toString();
      try {
        const event = parseRunEvent(JSON.parse(text), { external: true });
        if (message.key?.toString() !== event.runId) invalidEvents.push(`key ${message.key?.toString()} is not the runId: ${text}`);
        events.push(event);
      } catch (err) {
        invalidEvents.push(`${(err as Error).message}: ${text}`);
      }
    },
  });
  // Drivers a failed test left running would hold the cluster's one driver slot.
  disposables.defer(async () => {
    for (const id of submitted) {
      const st = await driverStatus(id).catch(() => null);
      if (st && !FINAL_DRIVER_STATES.includes(st.driverState)) await killDriver(id).catch(() => undefined);
    }
  });
}, 120_000);

afterAll(() => disposables.disposeAll());

describe('IngestApp with JobwireListener on the cluster', () => {
  const runId = crypto.randomUUID();
  const table = 'orders';

  it(
    'loads exactly the good rows of a 200,000-row CSV, prints its facts on stderr and reports progress to Kafka',
    async () => {
      const id = await submitIngest({ runId, attempt: 1, table, path: bigCsv });
      await waitForDriver(id, ['FINISHED'], JOB_TIMEOUT);

      expect(await count(table)).toBe(ROWS - BAD_LINES.length);
      const loaded = await db.query(`select order_id, customer_name, amount, ordered_on::text from public.orders where order_id = 2`);
      expect(loaded.rows).toEqual([{ order_id: 2, customer_name: 'customer 2', amount: 0.5, ordered_on: '2026-11-03' }]);
      const ledger = await db.query(`select attempt, rows from public._jobwire_loads where run_id = $1`, [runId]);
      expect(ledger.rows).toEqual([{ attempt: 1, rows: String(ROWS - BAD_LINES.length) }]);
      expect(await stagingTables()).toEqual([]);

      const stderr = await driverLog(id);
      const facts = jobwireLines(stderr);
      expect(facts.map((f) => f.type)).toEqual(['started', 'read', 'result']);
      expect(facts[0]).toEqual({ type: 'started', runId, attempt: 1 });
      expect(facts[1]).toEqual({ type: 'read', rows: ROWS, failed: BAD_LINES.length });
      expect(facts[2]).toEqual({
        type: 'result',
        rowsRead: ROWS,
        rowsWritten: ROWS - BAD_LINES.length,
        rowsFailed: BAD_LINES.length,
        alreadyLoaded: false,
      });
      expect(stderr).not.toContain(password);
      expect(stderr).not.toContain(specOf({ runId, attempt: 1, table, path: bigCsv }).slice(0, 40));

      // The listener flushes at the application's end; the collector may still be catching up.
      await waitFor(
        () => eventsOf(runId, 1).some((e) => e.type === 'run.metrics' && e.payload.recordsProcessed >= ROWS),
        'run.metrics counting every record',
        30_000,
        200,
      );
      expect(invalidEvents).toEqual([]);
      const mine = eventsOf(runId, 1);
      expect(new Set(mine.map((e) => e.eventId)).size).toBe(mine.length);
      expect(mine.every((e) => /^spark-listener:app-/.test(e.producer ?? ''))).toBe(true);
      expect(mine.some((e) => e.type === 'run.status' && e.payload.status === 'RUNNING')).toBe(true);
      expect(mine.some((e) => e.type === 'run.heartbeat')).toBe(true);
      const metrics = mine.filter((e) => e.type === 'run.metrics');
      expect(metrics.some((e) => e.type === 'run.metrics' && e.payload.activeWorkers >= 1)).toBe(true);

      // Per stage: absolute counts that only grow, ending COMPLETED with every task counted.
      const byStage = new Map<string, { total: number; completed: number; status?: string }[]>();
      for (const e of mine) {
        if (e.type !== 'stage.progress') continue;
        const p = e.payload;
        const list = byStage.get(p.stage) ?? [];
        list.push({ total: p.totalItems!, completed: p.completedItems!, status: p.status ?? undefined });
        byStage.set(p.stage, list);
      }
      expect(byStage.size).toBeGreaterThanOrEqual(2);
      for (const [stage, list] of byStage) {
        expect(stage).toMatch(/^stage \d+: /);
        const completed = list.map((x) => x.completed);
        expect(completed).toEqual([...completed].sort((a, b) => a - b));
        const last = list[list.length - 1];
        expect(last).toEqual({ total: last.total, completed: last.total, status: 'COMPLETED' });
      }
      // The load itself ran as several tasks, reported as they finished.
      const load = [...byStage].find(([stage]) => stage.includes('into a staging table'));
      expect(load).toBeDefined();
      expect(load![1][0].total).toBeGreaterThan(1);
      expect(new Set(load![1].map((x) => x.completed)).size).toBeGreaterThan(2);
    },
    JOB_TIMEOUT + 60_000,
  );

  it(
    'loads nothing again when the same run is retried after it committed, and reports alreadyLoaded',
    async () => {
      const id = await submitIngest({ runId, attempt: 2, table, path: bigCsv });
      await waitForDriver(id, ['FINISHED'], JOB_TIMEOUT);
      expect(await count(table)).toBe(ROWS - BAD_LINES.length);
      const facts = jobwireLines(await driverLog(id));
      expect(facts.map((f) => f.type)).toEqual(['started', 'result']);
      expect(facts[1]).toMatchObject({ type: 'result', rowsWritten: ROWS - BAD_LINES.length, alreadyLoaded: true });
    },
    JOB_TIMEOUT + 60_000,
  );
});

it(
  'fails PERMANENT, naming both counts, and creates no table when too many rows are bad',
  async () => {
    const file = writeCsv('mostly-bad.csv', 2_000, (i) => i % 5 === 0);
    const runId = crypto.randomUUID();
    const id = await submitIngest({ runId, attempt: 1, table: 'mostly_bad', path: file, maxFailedRowRatio: 0.1 });
    await waitForDriver(id, ['FAILED'], JOB_TIMEOUT);
    const stderr = await driverLog(id);
    const facts = jobwireLines(stderr);
    expect(facts.map((f) => f.type)).toEqual(['started', 'read', 'error']);
    expect(facts[1]).toEqual({ type: 'read', rows: 2_000, failed: 400 });
    expect(facts[2]).toMatchObject({ type: 'error', kind: 'PERMANENT' });
    expect(facts[2].message).toMatch(/too many bad rows: 400 of 2000 rows read failed \(1600 good; 20\.0%\), more than the allowed 10\.0%/);
    expect(stderr).not.toContain(password);
    expect(await count('mostly_bad')).toBeNull();
    expect(await stagingTables()).toEqual([]);
  },
  JOB_TIMEOUT + 60_000,
);

it(
  'leaves no row behind when the driver is killed mid-load, and the next attempt of the run loads every good row once',
  async () => {
    const runId = crypto.randomUUID();
    const table = 'killed';
    // Small JDBC batches: the load takes long enough to be killed in the middle.
    const id = await submitIngest({ runId, attempt: 1, table, path: bigCsv, batchSize: 50 });
    await waitFor(
      () => eventsOf(runId, 1).some((e) => e.type === 'stage.progress' && e.payload.stage.includes('into a staging table')),
      'the load to start',
      JOB_TIMEOUT,
      100,
    );
    expect(await killDriver(id)).toBe(true);
    await waitForDriver(id, ['KILLED'], 60_000);
    expect(await count(table)).toBeNull();

    const retry = await submitIngest({ runId, attempt: 2, table, path: bigCsv });
    await waitForDriver(retry, ['FINISHED'], JOB_TIMEOUT);
    expect(await count(table)).toBe(ROWS - BAD_LINES.length);
    // The killed attempt's staging table was dropped by the retry.
    expect(await stagingTables()).toEqual([]);
    const facts = jobwireLines(await driverLog(retry));
    expect(facts[facts.length - 1]).toMatchObject({ type: 'result', rowsWritten: ROWS - BAD_LINES.length, alreadyLoaded: false });
  },
  2 * JOB_TIMEOUT + 60_000,
);
