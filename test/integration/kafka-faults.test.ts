/**
 * The Kafka consumer when things break, against the real broker: at least once in, exactly once in
 * effect. A gateway killed with SIGKILL in the middle of 10,000 stage increments (5 % of them
 * delivered twice) and started again ends with exactly 10,000 and no log line stored twice; two
 * gateways in one group apply each event once, and a client on one sees what the other consumed;
 * PostgreSQL stopped and started again under the consumer loses nothing and applies nothing twice.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import type { Kafka, Producer } from 'kafkajs';
import { Pool } from 'pg';
import type { App } from '../../src/app';
import { ExecutionBackend, RunStatus, SourceType } from '../../src/domain';
import { RunUpdatedDocument } from '../../client/generated/graphql';
import { spawnGateway, startTestApp, wsUrl, type GatewayProcess } from '../helpers/app';
import { createTestDatabase, REDIS_URL, uniqueRedisPrefix } from '../helpers/db';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';
import { createTestTopics, KAFKA_BROKERS, requireKafka, testKafka, testProducer, type TestTopics } from '../helpers/kafka';
import { canRunPrivatePostgres, startPrivatePostgres } from '../helpers/private-postgres';
import { createWsClient } from '../helpers/ws-client';

const disposables = new Disposables();
let kafka: Kafka;
let producer: Producer;

beforeAll(async () => {
  await requireKafka();
  kafka = testKafka('kafka-faults-test');
  producer = testProducer(kafka, { idempotent: true, retry: { retries: 5 } });
  await producer.connect();
  disposables.defer(() => producer.disconnect());
});
afterAll(() => disposables.disposeAll());

/** Topics and a group of one test's own, and the gateway configuration that names them. */
async function kafkaSetup(label: string, partitions = 2) {
  const topics: TestTopics = await createTestTopics(
    `${path.basename(__filename)}-${label}`,
    ['run-events', 'run-logs', 'run-commands', 'dead-letter'],
    {
      partitions,
      kafka,
      disposables,
    },
  );
  const env = {
    KAFKA_BROKERS: KAFKA_BROKERS.join(','),
    KAFKA_GROUP_ID: topics.groupId('gateways'),
    KAFKA_TOPIC_RUN_EVENTS: topics.name('run-events'),
    KAFKA_TOPIC_RUN_LOGS: topics.name('run-logs'),
    KAFKA_TOPIC_RUN_COMMANDS: topics.name('run-commands'),
    KAFKA_TOPIC_DEAD_LETTER: topics.name('dead-letter'),
  };
  const config = {
    kafkaBrokers: KAFKA_BROKERS,
    kafkaGroupId: env.KAFKA_GROUP_ID,
    kafkaTopics: {
      runEvents: env.KAFKA_TOPIC_RUN_EVENTS,
      runLogs: env.KAFKA_TOPIC_RUN_LOGS,
      runCommands: env.KAFKA_TOPIC_RUN_COMMANDS,
      deadLetter: env.KAFKA_TOPIC_DEAD_LETTER,
    },
  };
  return { topics, env, config };
}

const event = (runId: string, type: string, payload: object) => ({
  eventId: crypto.randomUUID(),
  runId,
  type,
  attempt: 1,
  producer: 'faults-test',
  payload,
});

async function produce(topic: string, records: { runId: string; value: object }[]) {
  for (let i = 0; i < records.length; i += 500) {
    await producer.send({
      topic,
      acks: -1,
      messages: records.slice(i, i + 500).map((r) => ({ key: r.runId, value: JSON.stringify(r.value) })),
    });
  }
}

/** `count` increments of one, 5 % of them sent twice (a redelivery), and `lines` log lines, some twice too. */
function stream(runId: string, count: number, lines: number) {
  const increments = Array.from({ length: count }, () =>
    event(runId, 'stage.progress', { stage: 'items', totalItems: count, increment: 1 }),
  );
  const withDuplicates = increments.flatMap((e, i) => (i % 20 === 7 ? [e, e] : [e]));
  const logLines = Array.from({ length: lines }, (_, i) => event(runId, 'run.log', { lines: [{ level: 'INFO', message: `line ${i}` }] }));
  const logsWithDuplicates = logLines.flatMap((e, i) => (i % 20 === 3 ? [e, e] : [e]));
  return { events: withDuplicates.map((value) => ({ runId, value })), logs: logsWithDuplicates.map((value) => ({ runId, value })) };
}

/** Reads a run's item count and its log lines straight from the database (the gateways may be other processes). */
function reader(url: string) {
  const pool = disposables.add(new Pool({ connectionString: url, max: 2 }), (p) => p.end());
  pool.on('error', () => undefined); // the test stops its private server under it
  return {
    async items(runId: string): Promise<number> {
      const r = await pool.query(`select completed_items as n from jobwire.run_stages where run_id = $1 and name = 'items'`, [runId]);
      return r.rows[0]?.n ?? 0;
    },
    async lines(runId: string): Promise<{ total: number; distinct: number }> {
      const r = await pool.query(
        'select count(*)::int as total, count(distinct message)::int as distinct from jobwire.run_logs where run_id = $1',
        [runId],
      );
      return r.rows[0];
    },
  };
}

async function kafkaJobRun(app: App) {
  const job = await app.jobs.create({
    name: `faults-${crypto.randomBytes(3).toString('hex')}`,
    backend: ExecutionBackend.KAFKA,
    source: { type: SourceType.LOCAL, params: { path: '/data/in.csv' } },
    destination: { schema: 'public', table: 'faults' },
  });
  const run = await app.runs.start(job.id);
  await app.runEvents.apply({ runId: run.id, attempt: 1, type: 'run.status', payload: { status: RunStatus.RUNNING } });
  return run;
}

describe('the Kafka consumer through faults', () => {
  it('counts 10,000 increments exactly once through a SIGKILL of the gateway, and stores no log line twice', async () => {
    const { env, config } = await kafkaSetup('sigkill');
    const db = disposables.add(await createTestDatabase('kfkill'), (d) => d.drop());
    const prefix = uniqueRedisPrefix('kfkill');
    // The API of a gateway without workers (it consumes nothing); the consumers run in processes of their own.
    const api = disposables.add(await startTestApp({ databaseUrl: db.url, redisPrefix: prefix, workers: false, ...config }), (a) =>
      a.stop(),
    );
    const run = await kafkaJobRun(api);
    const gatewayEnv = { ...env, DATABASE_URL: db.url, REDIS_URL, REDIS_PREFIX: prefix, JOBWIRE_SEED_DEMO: 'false' };
    let first: GatewayProcess | null = await spawnGateway(gatewayEnv);
    disposables.defer(() => first?.stop());
    const read = reader(db.url);
    const { events, logs } = stream(run.id, 10_000, 1000);
    const producing = Promise.all([produce(config.kafkaTopics.runEvents, events), produce(config.kafkaTopics.runLogs, logs)]);
    await waitFor(async () => (await read.items(run.id)) > 2000, 'a part of the stream to be applied', 60_000);
    first.child.kill('SIGKILL');
    await new Promise((r) => first!.child.once('exit', r));
    first = null;
    const second = await spawnGateway(gatewayEnv);
    disposables.defer(() => second.stop());
    await producing;
    await waitFor(
      async () => (await read.items(run.id)) >= 10_000 && (await read.lines(run.id)).total >= 1000,
      'the whole stream',
      120_000,
    );
    // Everything was consumed (the stream is longer than what made the counts reach their end).
    await waitFor(
      async () =>
        (await api.core.runs.stages(run.id)) &&
        (await lagOf(config.kafkaGroupId, [config.kafkaTopics.runEvents, config.kafkaTopics.runLogs])) === 0,
      'no lag',
      60_000,
    );
    expect(await read.items(run.id)).toBe(10_000);
    expect(await read.lines(run.id)).toEqual({ total: 1000, distinct: 1000 });
  }, 300_000);

  it('with two gateways in one group, applies each event once, and a client on one sees what the other consumed', async () => {
    const { env, config } = await kafkaSetup('twogw', 4);
    const db = disposables.add(await createTestDatabase('kftwo'), (d) => d.drop());
    const prefix = uniqueRedisPrefix('kftwo');
    const a = disposables.add(await startTestApp({ databaseUrl: db.url, redisPrefix: prefix, ...config }), (x) => x.stop());
    const b = await spawnGateway({ ...env, DATABASE_URL: db.url, REDIS_URL, REDIS_PREFIX: prefix, JOBWIRE_SEED_DEMO: 'false' });
    disposables.defer(() => b.stop());
    // Both members are in: the group has two.
    const admin = kafka.admin();
    await admin.connect();
    disposables.defer(() => admin.disconnect());
    await waitFor(
      async () => (await admin.describeGroups([config.kafkaGroupId])).groups[0]?.members.length === 2,
      'both gateways in the group',
      60_000,
    );
    const runs = await Promise.all(Array.from({ length: 8 }, () => kafkaJobRun(a)));
    const ws = disposables.add(await createWsClient(wsUrl(a)), (c) => c.dispose());
    const subs = runs.map((r) => ws.subscribe(RunUpdatedDocument, { runId: r.id }));
    for (const s of subs) await s.next();
    const read = reader(db.url);
    await produce(
      config.kafkaTopics.runEvents,
      runs.flatMap((r) => stream(r.id, 200, 0).events),
    );
    for (const r of runs) await waitFor(async () => (await read.items(r.id)) >= 200, `run ${r.id} to count 200`, 60_000);
    for (const r of runs) expect(await read.items(r.id)).toBe(200);
    // The partitions are split between the two: some runs were consumed by the other process, and A's client saw every run move.
    const assignment = (await admin.describeGroups([config.kafkaGroupId])).groups[0].members.length;
    expect(assignment).toBe(2);
    for (const s of subs) {
      const seen = await waitFor(async () => {
        const m = await s.next(30_000);
        return (m.data!.runUpdated.stages.find((st) => st.name === 'items')?.completedItems ?? 0) > 0 ? m : null;
      }, 'a change pushed to the client on A');
      expect(seen).toBeTruthy();
      s.dispose();
    }
  }, 300_000);

  (canRunPrivatePostgres() ? it : it.skip)(
    'loses nothing and applies nothing twice when PostgreSQL stops and starts again under the consumer',
    async () => {
      const { config } = await kafkaSetup('pgdown');
      const pg = await startPrivatePostgres();
      disposables.defer(() => pg.destroy());
      const app: App = await startTestApp({ databaseUrl: pg.url, redisPrefix: uniqueRedisPrefix('kfpg'), ...config });
      disposables.defer(() => app.stop());
      await waitFor(() => app.ingestStatus?.readiness() === 'ok', 'the consumer to join', 60_000);
      const run = await kafkaJobRun(app);
      const read = reader(pg.url);
      const { events, logs } = stream(run.id, 3000, 300);
      await produce(config.kafkaTopics.runEvents, events.slice(0, 1000));
      await waitFor(async () => (await read.items(run.id)) > 0, 'the first events', 30_000);
      pg.stop();
      // Records keep coming while the database is away: the consumer pauses, commits nothing it did not store.
      await produce(config.kafkaTopics.runEvents, events.slice(1000));
      await produce(config.kafkaTopics.runLogs, logs);
      await waitFor(() => app.ingestStatus!.readiness().startsWith('kafka consumer paused'), 'the consumer to pause', 60_000);
      pg.start();
      await waitFor(
        async () =>
          (await read.items(run.id).catch(() => 0)) >= 3000 && (await read.lines(run.id).catch(() => ({ total: 0 }))).total >= 300,
        'everything after the restart',
        120_000,
      );
      expect(await read.items(run.id)).toBe(3000);
      expect(await read.lines(run.id)).toEqual({ total: 300, distinct: 300 });
      await waitFor(() => app.ingestStatus!.readiness() === 'ok', 'the consumer to resume', 60_000);
    },
    300_000,
  );
});

/** The group's lag over some topics (end offsets minus committed ones). */
async function lagOf(groupId: string, topicNames: string[]): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    let lag = 0;
    const committed = await admin.fetchOffsets({ groupId, topics: topicNames });
    for (const t of topicNames) {
      for (const end of await admin.fetchTopicOffsets(t)) {
        const c = committed.find((x) => x.topic === t)?.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1';
        lag += Number(end.offset) - Math.max(Number(c), Number(end.low));
      }
    }
    return lag;
  } finally {
    await admin.disconnect();
  }
}
