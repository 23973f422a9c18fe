/**
 * The Kafka worker (workers/kafka-worker) against the real broker and PostgreSQL: commands in on a
 * commands topic, the LOCAL ingestion engine loading into a destination database, and what jobwire
 * would see on the events and logs topics — parsed with the contract's own schema.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Consumer, Kafka, Producer } from 'kafkajs';
import { Pool } from 'pg';
import { ConfigError } from '../../src/config';
import { parseRunCommand, parseRunEvent, type AnyRunEvent, type RunCommand } from '../../src/events/run-event.schema';
import { makeLogger } from '../../src/logger';
import { loadWorkerConfig, type WorkerConfig } from '../../workers/kafka-worker/config';
import { FLUSH_MS } from '../../workers/kafka-worker/run-reporter';
import { startWorker, type KafkaWorker } from '../../workers/kafka-worker/worker';
import { builtEntry } from '../helpers/build';
import { createTestDatabase } from '../helpers/db';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';
import { createTestTopics, KAFKA_BROKERS, requireKafka, testKafka, testProducer, type TestTopics } from '../helpers/kafka';

const disposables = new Disposables();
/** What one test starts (workers, child processes), stopped after it. */
const perTest = new Disposables();
const logger = makeLogger((process.env.TEST_LOG_LEVEL as 'silent') ?? 'silent');
/** One commands topic (and group) per test: a group reading from the beginning must not see another test's commands. */
const COMMANDS = ['success', 'stop', 'failures', 'group', 'secrets', 'sigterm'] as const;
type CommandsOf = (typeof COMMANDS)[number];
const PARTITIONS = 4;

let kafka: Kafka;
let topics: TestTopics;
let producer: Producer;
let collector: Consumer;
let dest: Pool;
let destUrl: string;
let dir: string;
let baseUrl: string;

/** A record the worker produced, as the collector received it. */
interface Produced {
  topic: string;
  partition: number;
  offset: number;
  key: string;
  value: unknown;
}
const produced: Produced[] = [];

/** HTTP routes the tests point HTTP sources at. */
const routes = new Map<string, (req: http.IncomingMessage, res: http.ServerResponse) => void>();

function csv(rows: number): string {
  const lines = ['id,name,amount'];
  for (let i = 1; i <= rows; i++) lines.push(`${i},name ${i},${(i * 1.5).toFixed(2)}`);
  return lines.join('\n') + '\n';
}

function writeCsv(name: string, rows: number): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, csv(rows));
  return file;
}

beforeAll(async () => {
  await requireKafka();
  kafka = testKafka('kafka-worker-test');
  topics = await createTestTopics(path.basename(__filename), ['run-events', 'run-logs', ...COMMANDS.map((c) => `commands-${c}`)], {
    partitions: PARTITIONS,
    kafka,
    disposables,
  });
  const database = await createTestDatabase('kworker');
  disposables.defer(() => database.drop());
  destUrl = database.url;
  dest = disposables.add(new Pool({ connectionString: destUrl, max: 2 }), (p) => p.end());
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-kafka-worker-'));
  disposables.defer(() => fs.rmSync(dir, { recursive: true, force: true }));

  const server = http.createServer((req, res) => {
    const handler = routes.get(req.url ?? '');
    if (handler) handler(req, res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  disposables.defer(() => new Promise((r) => server.close(r)));
  disposables.defer(() => server.closeAllConnections());
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  producer = disposables.add(testProducer(kafka), (p) => p.disconnect());
  await producer.connect();
  collector = disposables.add(kafka.consumer({ groupId: topics.groupId('collector'), maxWaitTimeInMs: 200 }), (c) => c.disconnect());
  await collector.connect();
  await collector.subscribe({ topics: [topics.name('run-events'), topics.name('run-logs')], fromBeginning: true });
  await collector.run({
    eachMessage: async ({ topic, partition, message }) => {
      produced.push({
        topic,
        partition,
        offset: Number(message.offset),
        key: message.key?.toString() ?? '',
        value: JSON.parse(message.value!.toString()),
      });
    },
  });
});

afterEach(() => perTest.disposeAll());
afterAll(() => disposables.disposeAll());

/** The worker's configuration for one test, through the real loader (as its environment would give it). */
function configFor(commands: CommandsOf, env: Record<string, string> = {}): Readonly<WorkerConfig> {
  return loadWorkerConfig(envFor(commands, env));
}

function envFor(commands: CommandsOf, env: Record<string, string> = {}): Record<string, string> {
  return {
    KAFKA_BROKERS: KAFKA_BROKERS.join(','),
    KAFKA_TOPIC_RUN_COMMANDS: topics.name(`commands-${commands}`),
    KAFKA_TOPIC_RUN_EVENTS: topics.name('run-events'),
    KAFKA_TOPIC_RUN_LOGS: topics.name('run-logs'),
    WORKER_GROUP_ID: topics.groupId(commands),
    WORKER_FROM_BEGINNING: 'true',
    WORKER_DATABASE_URL: destUrl,
    WORKER_ID: `test-worker-${commands}`,
    WORKER_HEARTBEAT_MS: '100',
    LOCAL_SOURCE_ROOTS: dir,
    LOG_LEVEL: 'silent',
    ...env,
  };
}

async function runWorker(config: Readonly<WorkerConfig>): Promise<KafkaWorker> {
  const worker = await startWorker(config, { logger });
  perTest.defer(() => worker.stop());
  return worker;
}

let tables = 0;
/** A valid `start` command (checked with the contract's parser) for a fresh run of a fresh job, into a fresh table. */
function startCommand(
  source: { type: 'LOCAL' | 'HTTP'; params: Record<string, string> },
  opts: { attempt?: number; batchSize?: number; maxRowsPerSecond?: number; jobId?: string } = {},
): Extract<RunCommand, { type: 'start' }> & { table: string } {
  const table = `kw_${++tables}_${crypto.randomBytes(3).toString('hex')}`;
  const command = parseRunCommand({
    commandId: crypto.randomUUID(),
    type: 'start',
    runId: crypto.randomUUID(),
    attempt: opts.attempt ?? 1,
    jobId: opts.jobId ?? crypto.randomUUID(),
    issuedAt: new Date().toISOString(),
    job: {
      source: { ...source, filePattern: null },
      destination: { schema: 'public', table },
      processing: {
        mode: 'BATCH',
        format: 'CSV',
        batchSize: opts.batchSize ?? 1000,
        checkpointEnabled: false,
        watermarkSeconds: null,
        triggerIntervalSeconds: null,
        maxRowsPerSecond: opts.maxRowsPerSecond ?? null,
      },
      compute: {
        clusterMode: 'SINGLE_NODE',
        instanceType: 'STANDARD',
        minWorkers: 1,
        maxWorkers: 1,
        autoscaling: false,
        photon: false,
        adaptiveQueryExecution: false,
        dynamicPartitionPruning: false,
        costBasedOptimizer: false,
        sparkConf: null,
      },
    },
  }) as Extract<RunCommand, { type: 'start' }>;
  return { ...command, table };
}

function stopCommand(start: RunCommand): RunCommand {
  return parseRunCommand({
    commandId: crypto.randomUUID(),
    type: 'stop',
    runId: start.runId,
    attempt: start.attempt,
    jobId: start.jobId,
    issuedAt: new Date().toISOString(),
  });
}

/** Produces commands keyed by runId (as jobwire does); `partition` pins one for tests that need them spread. */
async function send(commands: CommandsOf, ...items: { command: RunCommand; partition?: number }[]) {
  const messages = items.map(({ command, partition }) => {
    const { table: _table, ...value } = command as RunCommand & { table?: string };
    return { key: command.runId, value: JSON.stringify(value), ...(partition !== undefined ? { partition } : {}) };
  });
  await producer.send({ topic: topics.name(`commands-${commands}`), acks: -1, messages });
}

/** The records of one run on one topic, in the order they were produced (one partition: key = runId). */
function recordsOf(runId: string, topic: 'run-events' | 'run-logs'): Produced[] {
  return produced
    .filter((r) => r.topic === topics.name(topic) && r.key === runId)
    .sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

/** The run's events, each parsed as jobwire's consumer will (external: a public type and an eventId). */
function eventsOf(runId: string): AnyRunEvent[] {
  return recordsOf(runId, 'run-events').map((r) => parseRunEvent(r.value, { external: true }));
}

const TERMINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED'];
type StatusEvent = Extract<AnyRunEvent, { type: 'run.status' }>;
const statuses = (runId: string) => eventsOf(runId).filter((e): e is StatusEvent => e.type === 'run.status');

function waitForFinal(runId: string, timeoutMs = 20_000): Promise<StatusEvent> {
  return waitFor(() => statuses(runId).find((e) => TERMINAL.includes(e.payload.status)), `a final status of run ${runId}`, timeoutMs, 25);
}

async function rowsIn(table: string): Promise<number | null> {
  const { rows } = await dest.query<{ reg: string | null }>('select to_regclass($1) as reg', [`public.${table}`]);
  if (!rows[0].reg) return null;
  const count = await dest.query<{ n: string }>(`select count(*) as n from public."${table}"`);
  return Number(count.rows[0].n);
}

type StageEvent = Extract<AnyRunEvent, { type: 'stage.progress' }>;
const loadProgress = (runId: string) =>
  eventsOf(runId).filter((e): e is StageEvent => e.type === 'stage.progress' && e.payload.stage === 'load');

describe('configuration', () => {
  it('refuses to start without KAFKA_BROKERS or WORKER_DATABASE_URL, naming the variable', () => {
    expect(() => loadWorkerConfig({ WORKER_DATABASE_URL: 'postgres://x@db/y' })).toThrow(ConfigError);
    expect(() => loadWorkerConfig({ WORKER_DATABASE_URL: 'postgres://x@db/y' })).toThrow(/KAFKA_BROKERS.*required/);
    expect(() => loadWorkerConfig({ KAFKA_BROKERS: '127.0.0.1:9092' })).toThrow(/WORKER_DATABASE_URL.*required/);
    expect(() => loadWorkerConfig({ KAFKA_BROKERS: 'localhost', WORKER_DATABASE_URL: 'postgres://x@db/y' })).toThrow(/KAFKA_BROKERS/);
    expect(() =>
      loadWorkerConfig({ KAFKA_BROKERS: '127.0.0.1:9092', WORKER_DATABASE_URL: 'postgres://x:pw@db/y', WORKER_CONCURRENCY: '0' }),
    ).toThrow(/WORKER_CONCURRENCY/);
    // A URL that does not parse is not echoed: it may hold a password.
    expect(() => loadWorkerConfig({ KAFKA_BROKERS: '127.0.0.1:9092', WORKER_DATABASE_URL: 'not a url :s3cret' })).toThrow(/^(?!.*s3cret)/);
  });

  it('defaults to the contract topics, the shared group, two runs at once and a heartbeat every 10 s', () => {
    const config = loadWorkerConfig({ KAFKA_BROKERS: '127.0.0.1:9092', WORKER_DATABASE_URL: 'postgres://x@db/y' });
    expect(config).toMatchObject({
      topics: { runCommands: 'jobwire.run-commands', runEvents: 'jobwire.run-events', runLogs: 'jobwire.run-logs' },
      groupId: 'jobwire-workers',
      concurrency: 2,
      heartbeatMs: 10_000,
      fromBeginning: false,
      workerId: `${os.hostname()}:${process.pid}`,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });
});

it('runs a start command: RUNNING, stage progress up to the row count, metrics, heartbeats, logs, SUCCEEDED, rows loaded once', async () => {
  const ROWS = 5000;
  const config = configFor('success');
  await runWorker(config);
  // Paced to about half a second, so that heartbeats (every 100 ms here) have time to beat.
  const start = startCommand({ type: 'LOCAL', params: { path: writeCsv('orders.csv', ROWS) } }, { attempt: 2, maxRowsPerSecond: 10_000 });
  await send('success', { command: start });

  const final = await waitForFinal(start.runId);
  expect(final.payload.status).toBe('SUCCEEDED');
  expect(await rowsIn(start.table)).toBe(ROWS);

  const records = recordsOf(start.runId, 'run-events');
  const events = eventsOf(start.runId);
  // One run, one partition, and the order it happened in: RUNNING first, the final status last.
  expect(new Set(records.map((r) => r.partition)).size).toBe(1);
  expect(events[0]).toMatchObject({ type: 'run.status', payload: { status: 'RUNNING' } });
  expect(events.at(-1)).toEqual(final);
  for (const e of events) expect(e).toMatchObject({ runId: start.runId, attempt: 2, producer: config.workerId });

  const load = loadProgress(start.runId);
  expect(load.at(-1)!.payload).toMatchObject({
    status: 'COMPLETED',
    completedItems: ROWS,
    totalItems: ROWS,
    totalIsEstimate: false,
    failedItems: 0,
  });
  const counts = load.map((e) => e.payload.completedItems ?? 0);
  expect(counts).toEqual([...counts].sort((a, b) => a - b));
  for (const stage of ['extract', 'transform']) {
    const last = events.filter((e): e is StageEvent => e.type === 'stage.progress' && e.payload.stage === stage).at(-1);
    expect(last?.payload).toMatchObject({ status: 'COMPLETED', completedItems: ROWS });
  }
  // Coalesced: at most one update per stage per flush, plus the final batch.
  const ms = Date.parse(final.occurredAt!) - Date.parse(events[0].occurredAt!);
  expect(load.length).toBeLessThanOrEqual(Math.ceil(ms / FLUSH_MS) + 2);

  const metrics = events.filter((e) => e.type === 'run.metrics');
  expect(metrics.at(-1)).toMatchObject({ payload: { recordsProcessed: ROWS, activeWorkers: 1 } });
  expect(events.filter((e) => e.type === 'run.heartbeat').length).toBeGreaterThanOrEqual(1);

  // The log lines go to their own topic, in the same send as the final status.
  const linesOf = () =>
    recordsOf(start.runId, 'run-logs')
      .map((r) => parseRunEvent(r.value, { external: true }))
      .flatMap((e) => (e.type === 'run.log' ? e.payload.lines : []));
  const lines = await waitFor(
    () => (linesOf().some((l) => /^succeeded in /.test(l.message)) ? linesOf() : null),
    'the summary line on the logs topic',
  );
  expect(lines.every((l) => l.source === 'worker')).toBe(true);
  expect(lines.map((l) => l.message)).toEqual(expect.arrayContaining([expect.stringMatching(/^succeeded in .*: 5000 rows loaded/)]));

  const ids = [...records, ...recordsOf(start.runId, 'run-logs')].map((r) => (r.value as { eventId: string }).eventId);
  expect(new Set(ids).size).toBe(ids.length);

  // The same start redelivered after the run ended (a commit lost in a rebalance) does not load the
  // rows twice. A second, tiny run behind it on the same partition says when it was read.
  const marker = startCommand({ type: 'LOCAL', params: { path: writeCsv('marker.csv', 10) } });
  await send('success', { command: start, partition: 0 }, { command: marker, partition: 0 });
  expect((await waitForFinal(marker.runId)).payload.status).toBe('SUCCEEDED');
  expect(statuses(start.runId).map((e) => e.payload.status)).toEqual(['RUNNING', 'SUCCEEDED']);
  expect(await rowsIn(start.table)).toBe(ROWS);
});

it('cancels a run on a stop command: CANCELLED, never SUCCEEDED, nothing of it left in the destination', async () => {
  await runWorker(configFor('stop'));
  // 3000 rows at 500 rows/s: six seconds, unless stopped.
  const start = startCommand({ type: 'LOCAL', params: { path: writeCsv('slow.csv', 3000) } }, { batchSize: 100, maxRowsPerSecond: 500 });
  const stranger = startCommand({ type: 'LOCAL', params: { path: path.join(dir, 'never-read.csv') } });
  // A stop for a run this worker does not execute (another worker may): nothing happens.
  await send('stop', { command: stopCommand(stranger) }, { command: start });
  await waitFor(() => statuses(start.runId).length > 0, 'RUNNING');
  // The same start again (a redelivery): ignored, the run keeps going once.
  await send('stop', { command: start });
  // A metrics sample every second while it runs, not only at the end.
  await waitFor(() => eventsOf(start.runId).some((e) => e.type === 'run.metrics' && e.payload.recordsProcessed > 0), 'a metrics sample');

  await send('stop', { command: stopCommand(start) });
  const final = await waitForFinal(start.runId, 10_000);
  expect(final.payload).toMatchObject({ status: 'CANCELLED' });
  expect(statuses(start.runId).map((e) => e.payload.status)).toEqual(['RUNNING', 'CANCELLED']);
  // The load was one transaction, rolled back: not even the table is left.
  expect(await rowsIn(start.table)).toBeNull();
  expect(eventsOf(stranger.runId)).toEqual([]);
});

it('reports a missing file as FAILED PERMANENT and an HTTP 503 as FAILED TRANSIENT (so jobwire retries only that one)', async () => {
  routes.set('/busy.csv', (_req, res) => void res.writeHead(503, { 'content-type': 'text/plain' }).end('try later'));
  await runWorker(configFor('failures'));
  const missing = startCommand({ type: 'LOCAL', params: { path: path.join(dir, 'no-such-file.csv') } });
  const busy = startCommand({ type: 'HTTP', params: { url: `${baseUrl}/busy.csv` } });
  // A record that is not a command is skipped: it does not hold up the ones behind it.
  await producer.send({ topic: topics.name('commands-failures'), messages: [{ key: missing.runId, value: '{"type":"start"}' }] });
  await send('failures', { command: missing }, { command: busy });

  const [m, b] = await Promise.all([waitForFinal(missing.runId), waitForFinal(busy.runId)]);
  expect(m.payload).toMatchObject({ status: 'FAILED', error: { kind: 'PERMANENT', message: expect.stringMatching(/file not found/) } });
  expect(b.payload).toMatchObject({ status: 'FAILED', error: { kind: 'TRANSIENT', message: expect.stringMatching(/HTTP 503/) } });
});

it('executes each of 6 start commands exactly once with two workers sharing the group', async () => {
  const a = await runWorker(configFor('group', { WORKER_ID: 'worker-a' }));
  // The second join rebalances the group: once it resolves, each worker holds two of the four partitions.
  await runWorker(configFor('group', { WORKER_ID: 'worker-b' }));
  expect(a.activeRunIds()).toEqual([]);
  const starts = Array.from({ length: 6 }, (_, i) =>
    startCommand({ type: 'LOCAL', params: { path: writeCsv(`part-${i}.csv`, 300) } }, { batchSize: 100, maxRowsPerSecond: 1000 }),
  );
  // Spread over every partition, so that both workers get some, and one of them more than its two slots.
  await send('group', ...starts.map((command, i) => ({ command, partition: i % PARTITIONS })));

  const finals = await Promise.all(starts.map((s) => waitForFinal(s.runId, 30_000)));
  expect(finals.map((f) => f.payload.status)).toEqual(Array(6).fill('SUCCEEDED'));
  for (const s of starts) {
    expect(statuses(s.runId).filter((e) => e.payload.status === 'RUNNING')).toHaveLength(1);
    expect(new Set(eventsOf(s.runId).map((e) => e.producer)).size).toBe(1);
    expect(await rowsIn(s.table)).toBe(300);
  }
  expect(new Set(starts.map((s) => eventsOf(s.runId)[0].producer))).toEqual(new Set(['worker-a', 'worker-b']));
  // WORKER_CONCURRENCY (2) holds: no worker ever had a third run going (the rest waited on the partition).
  for (const worker of ['worker-a', 'worker-b']) {
    const spans = starts
      .map((s) => eventsOf(s.runId))
      .filter((events) => events[0].producer === worker)
      .map((events) => [Date.parse(events[0].occurredAt!), Date.parse(events.at(-1)!.occurredAt!)]);
    for (const [from] of spans) expect(spans.filter(([a, b]) => a <= from && from < b).length).toBeLessThanOrEqual(2);
  }
});

it('takes the source credentials from WORKER_SECRETS_FILE and never reports them', async () => {
  const token = `tok-${crypto.randomBytes(8).toString('hex')}`;
  routes.set('/private.csv', (req, res) => {
    if (req.headers.authorization !== `Bearer ${token}`) return void res.writeHead(401).end('who are you?');
    res.writeHead(200, { 'content-type': 'text/csv' }).end(csv(200));
  });
  const jobId = crypto.randomUUID();
  const secretsFile = path.join(dir, 'secrets.json');
  fs.writeFileSync(secretsFile, JSON.stringify({ [jobId]: { headers: { Authorization: `Bearer ${token}` } } }), { mode: 0o600 });
  await runWorker(configFor('secrets', { WORKER_SECRETS_FILE: secretsFile }));
  // The command carries no secret (jobwire leaves them out).
  const start = startCommand({ type: 'HTTP', params: { url: `${baseUrl}/private.csv` } }, { jobId });
  await send('secrets', { command: start });

  const final = await waitForFinal(start.runId);
  expect(final.payload.status).toBe('SUCCEEDED');
  expect(await rowsIn(start.table)).toBe(200);
  const everything = JSON.stringify([...recordsOf(start.runId, 'run-events'), ...recordsOf(start.runId, 'run-logs')]);
  expect(everything).not.toContain(token);
});

it('reports the run it executes FAILED TRANSIENT "worker stopping" on SIGTERM, and exits 0', async () => {
  const entry = builtEntry('dist/workers/kafka-worker/main.js');
  const env = envFor('sigterm', { WORKER_ID: 'spawned-worker', LOG_LEVEL: 'info' });
  const child: ChildProcess = spawn(process.execPath, [entry], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'pipe' });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  perTest.defer(() => (child.exitCode === null ? child.kill('SIGKILL') : undefined));

  const start = startCommand({ type: 'LOCAL', params: { path: writeCsv('long.csv', 3000) } }, { batchSize: 100, maxRowsPerSecond: 300 });
  await send('sigterm', { command: start });
  await waitFor(
    () => loadProgress(start.runId).some((e) => (e.payload.completedItems ?? 0) > 0),
    `the spawned worker loading rows\n${output}`,
    30_000,
  );

  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  const final = await waitForFinal(start.runId, 5000);
  expect(final).toMatchObject({
    producer: 'spawned-worker',
    payload: { status: 'FAILED', error: { kind: 'TRANSIENT', message: 'worker stopping' } },
  });
  expect(await rowsIn(start.table)).toBeNull();
});
