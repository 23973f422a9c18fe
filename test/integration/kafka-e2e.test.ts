/**
 * A KAFKA job end to end, on the real broker: started through the GraphQL API, it runs on the
 * worker that ships with jobwire (the built `jobwire-worker`, a process of its own, loading into a
 * destination database of its own) to SUCCEEDED with the right row count; `stopRun` cancels a
 * running one; a worker killed mid-run is caught by the stuck-run monitor and the run retries on
 * another worker.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';
import type { App } from '../../src/app';
import { RunStatus } from '../../src/domain';
import { CreateJobDocument, RunDocument, StartJobDocument, StopRunDocument } from '../../client/generated/graphql';
import { httpUrl, startTestApp } from '../helpers/app';
import { builtEntry } from '../helpers/build';
import { createTestDatabase, uniqueRedisPrefix } from '../helpers/db';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';
import { gql, ok } from '../helpers/http';
import { createTestTopics, KAFKA_BROKERS, requireKafka, testKafka, type TestTopics, gatewayTopics } from '../helpers/kafka';

const disposables = new Disposables();
let app: App;
let url: string;
let topics: TestTopics;
let dir: string;
let destUrl: string;
let dest: Pool;

/** A worker process (the built one), with its output kept for a failing test's message. */
function startWorker(id: string): { child: ChildProcess; output: () => string; stop: () => Promise<void> } {
  const entry = builtEntry('dist/workers/kafka-worker/main.js');
  let out = '';
  const child = spawn(process.execPath, [entry], {
    env: {
      PATH: process.env.PATH ?? '',
      KAFKA_BROKERS: KAFKA_BROKERS.join(','),
      KAFKA_TOPIC_RUN_COMMANDS: topics.name('run-commands'),
      KAFKA_TOPIC_RUN_EVENTS: topics.name('run-events'),
      KAFKA_TOPIC_RUN_LOGS: topics.name('run-logs'),
      WORKER_GROUP_ID: topics.groupId('workers'),
      WORKER_FROM_BEGINNING: 'true',
      WORKER_DATABASE_URL: destUrl,
      WORKER_ID: id,
      WORKER_HEARTBEAT_MS: '300',
      WORKER_SESSION_TIMEOUT_MS: '6000',
      LOCAL_SOURCE_ROOTS: dir,
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  disposables.defer(stop);
  return { child, output: () => out, stop };
}

beforeAll(async () => {
  await requireKafka();
  const kafka = testKafka('kafka-e2e-test');
  topics = await createTestTopics(path.basename(__filename), ['run-events', 'run-logs', 'run-commands', 'dead-letter'], {
    partitions: 2,
    kafka,
    disposables,
  });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-kafka-e2e-'));
  disposables.defer(() => fs.rmSync(dir, { recursive: true, force: true }));
  const lines = ['id,name,amount'];
  for (let i = 1; i <= 3000; i++) lines.push(`${i},item ${i},${(i * 0.5).toFixed(2)}`);
  fs.writeFileSync(path.join(dir, 'orders.csv'), `${lines.join('\n')}\n`);
  const destDb = disposables.add(await createTestDatabase('kfdest'), (d) => d.drop());
  destUrl = destDb.url;
  dest = disposables.add(new Pool({ connectionString: destUrl, max: 2 }), (p) => p.end());
  const db = disposables.add(await createTestDatabase('kfe2e'), (d) => d.drop());
  app = await startTestApp({
    databaseUrl: db.url,
    redisPrefix: uniqueRedisPrefix('kfe2e'),
    kafkaBrokers: KAFKA_BROKERS,
    kafkaGroupId: topics.groupId('gateway'),
    kafkaTopics: gatewayTopics(topics),
    localSourceRoots: [dir],
    // A worker that goes silent this long is lost (longer than the workers' session timeout, so the
    // group has handed a dead worker's partitions to the others by then); the monitor looks often.
    stuckThresholdMs: 8000,
    stuckCheckIntervalMs: 300,
    retryBaseDelayMs: 200,
    retryMaxDelayMs: 400,
  });
  disposables.defer(() => app.stop());
  url = httpUrl(app);
  await waitFor(() => app.ingestStatus?.readiness() === 'ok', 'the gateway consumer to join', 60_000);
}, 120_000);
afterAll(() => disposables.disposeAll());

async function kafkaJob(table: string, maxRowsPerSecond?: number) {
  return ok(
    await gql(url, CreateJobDocument, {
      input: {
        name: table,
        backend: 'KAFKA',
        source: { type: 'LOCAL', params: { path: path.join(dir, 'orders.csv') } },
        destination: { schema: 'public', table },
        processing: { format: 'CSV', batchSize: 100, ...(maxRowsPerSecond ? { maxRowsPerSecond } : {}) },
      },
    }),
  ).createJob;
}
const runOf = async (id: string) => ok(await gql(url, RunDocument, { id })).run!;
const rowsIn = async (table: string) => (await dest.query(`select count(*)::int as n from public.${table}`)).rows[0].n as number;

describe('a KAFKA job on the shipped worker', () => {
  it('runs to SUCCEEDED with the right row count, reported only through Kafka', async () => {
    const worker = startWorker('e2e-worker-1');
    const job = await kafkaJob('kafka_orders');
    const run = ok(await gql(url, StartJobDocument, { id: job.id })).startJob;
    expect(run.status).toBe(RunStatus.PENDING);
    const done = await waitFor(
      async () => {
        const r = await runOf(run.id);
        return r.status === RunStatus.SUCCEEDED || r.status === RunStatus.FAILED ? r : null;
      },
      `the run to end\n${worker.output()}`,
      90_000,
    );
    expect(done.status).toBe(RunStatus.SUCCEEDED);
    expect(done.stages.find((s) => s.name === 'load')!.completedItems).toBe(3000);
    expect(done.progress).toBe(1);
    expect(await rowsIn('kafka_orders')).toBe(3000);
    await worker.stop();
  }, 120_000);

  it('stops a running run with stopRun: CANCELLED when the worker confirms', async () => {
    const worker = startWorker('e2e-worker-2');
    const job = await kafkaJob('kafka_paced', 300);
    const run = ok(await gql(url, StartJobDocument, { id: job.id })).startJob;
    await waitFor(async () => (await runOf(run.id)).status === RunStatus.RUNNING, `the run to start\n${worker.output()}`, 60_000);
    const stopping = ok(await gql(url, StopRunDocument, { id: run.id })).stopRun;
    expect(stopping.status).toBe(RunStatus.CANCELLING);
    await waitFor(async () => (await runOf(run.id)).status === RunStatus.CANCELLED, `the worker to confirm\n${worker.output()}`, 60_000);
    await worker.stop();
  }, 120_000);

  it('retries a run whose worker was killed mid-run: the monitor notices the silence, another worker finishes it', async () => {
    const first = startWorker('e2e-worker-killed');
    const job = await kafkaJob('kafka_retried', 300);
    const run = ok(await gql(url, StartJobDocument, { id: job.id })).startJob;
    await waitFor(async () => (await runOf(run.id)).status === RunStatus.RUNNING, `the run to start\n${first.output()}`, 60_000);
    // A second worker joins the group while the first executes; then the first dies without a word.
    const second = startWorker('e2e-worker-2nd');
    await waitFor(() => second.output().includes('ready'), `the second worker to be ready\n${second.output()}`, 60_000);
    first.child.kill('SIGKILL');
    // Silent past the stuck threshold: failed TRANSIENT, then attempt 2 goes out as a new start command.
    const failed = await waitFor(
      async () => {
        const r = await runOf(run.id);
        return r.attempts[0].status === RunStatus.FAILED ? r : null;
      },
      'the monitor to fail attempt 1',
      60_000,
    );
    expect(failed.attempts[0].error).toMatchObject({ kind: 'TRANSIENT' });
    const done = await waitFor(
      async () => {
        const r = await runOf(run.id);
        return r.status === RunStatus.SUCCEEDED ? r : null;
      },
      `attempt 2 to succeed\n${second.output()}`,
      120_000,
    );
    expect(done.attempt).toBeGreaterThanOrEqual(2);
    expect(done.stages.find((s) => s.name === 'load')!.completedItems).toBe(3000);
    await second.stop();
  }, 240_000);
});
