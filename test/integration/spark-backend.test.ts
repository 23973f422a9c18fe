/**
 * The SPARK backend end to end, against the real cluster of `npm run services:up` and the built
 * jobwire-spark.jar: a gateway (PostgreSQL, Redis and Kafka topics of its own) submits runs over
 * the master's REST API, and a WebSocket client watches them move — status polled from the master,
 * stage progress pushed by the listener inside the application (Kafka) and polled from the driver,
 * driver log lines tailed from the worker. Runs of this file go one after the other (the test
 * cluster runs one driver at a time); each takes 20–90 s here, so every wait is for a condition,
 * with generous limits.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import type { App } from '../../src/app';
import { ErrorKind, ExecutionBackend, RunStatus, SourceType, type JobView } from '../../src/domain';
import {
  JobSparkDocument,
  PreflightJobDocument,
  RunLogsLiveDocument,
  RunMetricsDocument,
  RunUpdatedDocument,
  StageProgressDocument,
  StartJobDocument,
  StopRunDocument,
} from '../../client/generated/graphql';
import { httpUrl, startTestApp, wsUrl } from '../helpers/app';
import { createTestDatabase, uniqueRedisPrefix } from '../helpers/db';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';
import { gql, ok } from '../helpers/http';
import { createTestTopics, KAFKA_BROKERS, requireKafka, testKafka, gatewayTopics } from '../helpers/kafka';
import { requireSpark, sparkAppJar, SPARK_REST_URL, SPARK_UI_URL } from '../helpers/spark';
import { createWsClient, type SubMessage, type TestWsClient } from '../helpers/ws-client';

/** A run may wait behind other files' drivers (the test cluster runs one at a time): generous, and a test a little more. */
const RUN_TIMEOUT = 360_000;
const TEST_TIMEOUT = RUN_TIMEOUT + 60_000;
const ROWS = 300_000;
/** Lines with too few or too many fields: counted as bad, never loaded. */
const BAD = new Set([11, 70_001, 150_000, 299_990]);

const disposables = new Disposables();
let app: App;
let ws: TestWsClient;
let dest: Client;
let dir: string;
let jar: string;

beforeAll(async () => {
  await requireSpark();
  await requireKafka();
  jar = sparkAppJar();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-spark-'));
  disposables.defer(() => fs.promises.rm(dir, { recursive: true, force: true }));
  const lines = ['order_id,customer,amount'];
  for (let i = 1; i <= ROWS; i++)
    lines.push(BAD.has(i) ? (i % 2 ? `${i},broken` : `${i},a,b,c,d`) : `${i},customer ${i % 991},${(i * 0.5).toFixed(2)}`);
  fs.writeFileSync(path.join(dir, 'orders.csv'), lines.join('\n') + '\n');
  const kafka = testKafka('spark-backend-test');
  const topics = await createTestTopics(path.basename(__filename), ['run-events', 'run-logs', 'run-commands', 'dead-letter'], {
    partitions: 1,
    kafka,
    disposables,
  });
  const db = disposables.add(await createTestDatabase('sparkbackend'), (d) => d.drop());
  dest = disposables.add(new Client({ connectionString: db.url }), (c) => c.end());
  await dest.connect();
  app = await startTestApp({
    databaseUrl: db.url,
    redisPrefix: uniqueRedisPrefix('sparkbackend'),
    sparkMasterUrl: SPARK_REST_URL,
    sparkMasterUiUrl: SPARK_UI_URL,
    sparkAppJar: jar,
    sparkPollIntervalMs: 500,
    kafkaBrokers: KAFKA_BROKERS,
    kafkaGroupId: topics.groupId('gateway'),
    kafkaTopics: gatewayTopics(topics),
    localSourceRoots: [dir],
  });
  disposables.defer(() => app.stop());
  ws = disposables.add(await createWsClient(wsUrl(app)), (c) => c.dispose());
}, 120_000);
afterAll(() => disposables.disposeAll());

const sparkJob = (name: string, extra: Partial<Parameters<App['jobs']['create']>[0]> = {}): Promise<JobView> =>
  app.jobs.create({
    name: `${name}-${Date.now()}`,
    backend: ExecutionBackend.SPARK,
    source: { type: SourceType.LOCAL, params: { path: path.join(dir, 'orders.csv') } },
    destination: { schema: 'public', table: name.replace(/-/g, '_') },
    maxAttempts: 1,
    ...extra,
  });

const userApp = (mainClass: string, args: string[]) => ({ sparkApplication: { appResource: jar, mainClass, args } });

/** Starts a job over GraphQL with its live feeds open from the start; resolves with the run and its feeds. */
async function startWatched(job: JobView) {
  const run = ok(await gql(httpUrl(app), StartJobDocument, { id: job.id })).startJob;
  const updates = ws.subscribe(RunUpdatedDocument, { runId: run.id });
  const stages = ws.subscribe(StageProgressDocument, { runId: run.id });
  const metrics = ws.subscribe(RunMetricsDocument, { runId: run.id });
  const logs = ws.subscribe(RunLogsLiveDocument, { runId: run.id });
  const ended = (m: SubMessage<{ runUpdated: { status: string } }>) =>
    [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED].includes(m.data!.runUpdated.status as RunStatus);
  return { run, updates, stages, metrics, logs, end: () => updates.waitFor(ended, RUN_TIMEOUT).then((m) => m.data!.runUpdated) };
}

describe('the SPARK backend on a real cluster', () => {
  it(
    'runs the built-in ingestion: QUEUED → RUNNING → SUCCEEDED live, stages and workers moving, driver log lines, exactly the good rows',
    async () => {
      const job = await sparkJob('spark-orders');
      const preflight = ok(await gql(httpUrl(app), PreflightJobDocument, { id: job.id })).preflightJob;
      expect(preflight).toMatchObject({ ok: true });
      expect(preflight.checks.map((c) => c.name)).toEqual(['source', 'backend', 'application', 'compute', 'capacity']);

      const w = await startWatched(job);
      const final = await w.end();
      const statuses = [...w.updates.all().map((m) => m.data!.runUpdated.status), final.status];
      expect(final).toMatchObject({ status: RunStatus.SUCCEEDED, engineState: 'FINISHED', progress: 1 });
      expect(final.externalId).toMatch(/^driver-/);
      // Every step seen in order, none backwards.
      const order = [RunStatus.PENDING, RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.SUCCEEDED];
      const seen = statuses.filter((s, i) => s !== statuses[i - 1]);
      expect(seen.map((s) => order.indexOf(s as RunStatus))).toEqual([...seen.map((s) => order.indexOf(s as RunStatus))].sort());
      expect(seen).toEqual(expect.arrayContaining([RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.SUCCEEDED]));

      const stageMessages = w.stages.all().map((m) => m.data!.stageProgress);
      expect(stageMessages.some((s) => s.status === 'RUNNING')).toBe(true);
      expect(stageMessages.every((st) => /^stage \d+: /.test(st.name))).toBe(true);
      // Every stage ends complete at its task total (the listener's last counts may land just after the run's end).
      let stages = await app.runs.stages(w.run.id);
      await waitFor(
        async () => {
          stages = await app.runs.stages(w.run.id);
          return stages.length > 0 && stages.every((st) => st.status === 'COMPLETED' && st.completedItems === st.totalItems);
        },
        'every stage complete',
        30_000,
      ).catch((err) => {
        throw new Error(
          `${(err as Error).message}: ${JSON.stringify(stages.map((st) => [st.name, st.status, st.completedItems, st.totalItems]))}`,
        );
      });
      expect(stages.map((st) => st.name).sort()).toEqual([...new Set(stageMessages.map((st) => st.name))].sort());
      expect(w.metrics.all().some((m) => (m.data!.runMetrics.activeWorkers ?? 0) >= 1)).toBe(true);
      const lines = w.logs.all().flatMap((m) => m.data!.runLogs.lines);
      expect(lines.some((l) => l.source === 'driver stderr')).toBe(true);

      const { rows } = await dest.query<{ n: string }>('select count(*) as n from public.spark_orders');
      expect(Number(rows[0].n)).toBe(ROWS - BAD.size);
      expect(final.metrics).toMatchObject({ recordsProcessed: ROWS - BAD.size, recordsFailed: BAD.size });
      for (const s of [w.updates, w.stages, w.metrics, w.logs]) s.dispose();
    },
    TEST_TIMEOUT,
  );

  it(
    'runs the built-in ingestion from a PostgreSQL query over JDBC into a new table',
    async () => {
      await dest.query('create table public.spark_src (id int primary key, name text, amount numeric)');
      await dest.query("insert into public.spark_src select g, 'n' || g, g * 1.5 from generate_series(1, 20000) g");
      const url = new URL(app.config.databaseUrl!);
      const job = await sparkJob('spark-from-pg', {
        source: {
          type: SourceType.POSTGRES,
          params: { connectionString: url.toString(), query: 'select id, name, amount from public.spark_src where id % 2 = 0' },
        },
      });
      const w = await startWatched(job);
      const final = await w.end();
      expect(final).toMatchObject({ status: RunStatus.SUCCEEDED, engineState: 'FINISHED' });
      const { rows } = await dest.query<{ n: string; s: string }>('select count(*) as n, sum(id) as s from public.spark_from_pg');
      expect(Number(rows[0].n)).toBe(10_000);
      expect(Number(rows[0].s)).toBe(10_000 * 10_001); // 2 + 4 + … + 20000
      for (const s of [w.updates, w.stages, w.metrics, w.logs]) s.dispose();
    },
    TEST_TIMEOUT,
  );

  it(
    "runs a user's application that throws: FAILED with its exception's message",
    async () => {
      const job = await sparkJob('spark-fail', {
        processing: userApp('dev.jobwire.spark.examples.Fail', ['the', 'numbers', 'do', 'not', 'add', 'up']),
      });
      const shown = ok(await gql(httpUrl(app), JobSparkDocument, { id: job.id })).job!;
      expect(shown.processing.sparkApplication).toEqual({
        appResource: jar,
        mainClass: 'dev.jobwire.spark.examples.Fail',
        args: ['the', 'numbers', 'do', 'not', 'add', 'up'],
      });
      expect(shown.compute.effectiveSparkConf).toMatchObject({ 'spark.executor.memory': '512m', 'spark.cores.max': '1' });
      const w = await startWatched(job);
      const final = await w.end();
      expect(final.status).toBe(RunStatus.FAILED);
      expect(final.engineState).toBe('FAILED');
      expect(final.error!.message).toContain('the numbers do not add up');
      expect(final.error!.kind).toBe(ErrorKind.PERMANENT);
    },
    TEST_TIMEOUT,
  );

  it(
    'stops a running application: the driver is killed and the run ends CANCELLED',
    async () => {
      const job = await sparkJob('spark-sleep', { processing: userApp('dev.jobwire.spark.examples.Sleep', ['4', '30000']) });
      const w = await startWatched(job);
      await w.updates.waitFor((m) => m.data!.runUpdated.status === RunStatus.RUNNING, RUN_TIMEOUT);
      ok(await gql(httpUrl(app), StopRunDocument, { id: w.run.id }));
      const final = await w.end();
      expect(final).toMatchObject({ status: RunStatus.CANCELLED, engineState: 'KILLED' });
    },
    TEST_TIMEOUT,
  );

  it(
    'a main class that does not exist: FAILED PERMANENT, saying so',
    async () => {
      const job = await sparkJob('spark-nope', { processing: userApp('com.example.DoesNotExist', []) });
      const w = await startWatched(job);
      const final = await w.end();
      expect(final.status).toBe(RunStatus.FAILED);
      expect(final.error!.kind).toBe(ErrorKind.PERMANENT);
      expect(final.error!.message).toMatch(/com\.example\.DoesNotExist/);
    },
    TEST_TIMEOUT,
  );

  it(
    'preflight says what would not fit, without starting anything',
    async () => {
      const job = await sparkJob('spark-big');
      await app.jobs.applyComputePreset(job.id, 'large');
      const preflight = ok(await gql(httpUrl(app), PreflightJobDocument, { id: job.id })).preflightJob;
      expect(preflight.ok).toBe(false);
      const byName = Object.fromEntries(preflight.checks.map((c) => [c.name, c]));
      expect(byName.capacity).toMatchObject({ ok: false, message: expect.stringMatching(/asks for up to 65 cores/) });
      expect(byName.compute.message).toMatch(/Photon/);
      expect(byName.backend.ok).toBe(true);
      expect((await app.runs.list({ jobId: job.id }, { first: 1 })).totalCount).toBe(0);
    },
    TEST_TIMEOUT,
  );
});
