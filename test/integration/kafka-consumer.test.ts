/**
 * Run events from Kafka, against the real broker: a gateway (PostgreSQL and Redis of its own,
 * topics and a consumer group of its own) consumes what a worker would produce. Every event type
 * is applied and reaches a WebSocket subscriber; duplicates change nothing; a poison record becomes
 * a dead letter (in PostgreSQL and on the dead-letter topic) and the next record of its partition
 * still applies; an event of a run that does not exist yet is replayed once the run exists;
 * out-of-order statuses never move a run backwards; a KAFKA job's start and stop go out as commands.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import type { Consumer, Kafka, Producer } from 'kafkajs';
import type { App } from '../../src/app';
import { DeadLetterStatus, ErrorKind, ExecutionBackend, RunStatus, SourceType } from '../../src/domain';
import { DEAD_LETTER_HEADERS, parseRunCommand } from '../../src/events/run-event.schema';
import { RunLogsLiveDocument, RunMetricsDocument, RunUpdatedDocument, StageProgressDocument } from '../../client/generated/graphql';
import { startTestApp, wsUrl } from '../helpers/app';
import { createTestDatabase, uniqueRedisPrefix } from '../helpers/db';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';
import { createTestTopics, KAFKA_BROKERS, requireKafka, testKafka, testProducer, type TestTopics, gatewayTopics } from '../helpers/kafka';
import { createWsClient, type TestWsClient } from '../helpers/ws-client';

const disposables = new Disposables();
let app: App;
let kafka: Kafka;
let producer: Producer;
let topics: TestTopics;
let ws: TestWsClient;

beforeAll(async () => {
  await requireKafka();
  kafka = testKafka('kafka-consumer-test');
  topics = await createTestTopics(path.basename(__filename), ['run-events', 'run-logs', 'run-commands', 'dead-letter'], {
    partitions: 2,
    kafka,
    disposables,
  });
  producer = testProducer(kafka, { idempotent: true, retry: { retries: 5 } });
  await producer.connect();
  disposables.defer(() => producer.disconnect());
  const db = disposables.add(await createTestDatabase('kafkaconsumer'), (d) => d.drop());
  app = await startTestApp({
    databaseUrl: db.url,
    redisPrefix: uniqueRedisPrefix('kafkaconsumer'),
    kafkaBrokers: KAFKA_BROKERS,
    kafkaGroupId: topics.groupId('gateway'),
    kafkaTopics: gatewayTopics(topics),
  });
  disposables.defer(() => app.stop());
  ws = disposables.add(await createWsClient(wsUrl(app)), (c) => c.dispose());
  await waitFor(() => app.ingestStatus?.readiness() === 'ok', 'the consumer to join its group', 60_000);
}, 120_000);
afterAll(() => disposables.disposeAll());

/** A KAFKA job with one run (PENDING: a worker would pick it up; here the test plays the worker). */
async function kafkaRun() {
  const job = await app.jobs.create({
    name: `kafka-${crypto.randomBytes(3).toString('hex')}`,
    backend: ExecutionBackend.KAFKA,
    source: { type: SourceType.HTTP, params: { url: 'https://example.com/in.csv', headers: { Authorization: 'Bearer s3cret-token' } } },
    destination: { schema: 'public', table: 'kafka_out' },
  });
  const run = await app.runs.start(job.id);
  return { job, run };
}

const event = (runId: string, type: string, payload: object, extra: object = {}) => ({
  eventId: crypto.randomUUID(),
  runId,
  type,
  occurredAt: new Date().toISOString(),
  producer: 'kafka-consumer-test',
  attempt: 1,
  payload,
  ...extra,
});

const send = (topic: 'run-events' | 'run-logs', records: { key: string | null; value: string | object }[]) =>
  producer.send({
    topic: topics.name(topic),
    acks: -1,
    messages: records.map((r) => ({ key: r.key, value: typeof r.value === 'string' ? r.value : JSON.stringify(r.value) })),
  });

/** Reads every record of a topic until `until` says enough (a consumer of the test's own). */
async function readTopic<T>(
  suffix: string,
  parse: (m: { key: string | null; value: string | null; headers: Record<string, string> }) => T,
  until: (seen: T[]) => boolean,
) {
  const seen: T[] = [];
  const consumer: Consumer = kafka.consumer({ groupId: topics.groupId(`reader-${suffix}-${crypto.randomBytes(2).toString('hex')}`) });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: topics.name(suffix), fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
        seen.push(parse({ key: message.key?.toString() ?? null, value: message.value?.toString() ?? null, headers }));
      },
    });
    await waitFor(() => until(seen), `records on ${suffix}`, 30_000);
    return seen;
  } finally {
    await consumer.disconnect();
  }
}

describe('run events from Kafka', () => {
  it('applies every event type and pushes it to subscribers as LOCAL changes are; a duplicate changes nothing', async () => {
    const { run } = await kafkaRun();
    const updates = ws.subscribe(RunUpdatedDocument, { runId: run.id });
    const stages = ws.subscribe(StageProgressDocument, { runId: run.id });
    const metrics = ws.subscribe(RunMetricsDocument, { runId: run.id });
    const logs = ws.subscribe(RunLogsLiveDocument, { runId: run.id });
    expect((await updates.next()).data!.runUpdated.status).toBe(RunStatus.PENDING);
    const increment = event(run.id, 'stage.progress', { stage: 'thumbnail', totalItems: 10, increment: 3 });
    await send('run-events', [
      { key: run.id, value: event(run.id, 'run.status', { status: RunStatus.RUNNING }) },
      { key: run.id, value: increment },
      { key: run.id, value: increment }, // redelivered
      {
        key: run.id,
        value: event(run.id, 'run.metrics', {
          recordsProcessed: 3,
          recordsFailed: 0,
          throughputRps: 3,
          bytesProcessed: 300,
          activeWorkers: 1,
        }),
      },
      { key: run.id, value: event(run.id, 'run.heartbeat', {}) },
    ]);
    await send('run-logs', [
      { key: run.id, value: event(run.id, 'run.log', { lines: [{ level: 'INFO', message: 'resizing 10 images', source: 'worker' }] }) },
    ]);
    const running = await waitFor(async () => {
      const m = await updates.next(20_000);
      return m.data!.runUpdated.status === RunStatus.RUNNING ? m : null;
    }, 'the RUNNING status');
    expect(running.data!.runUpdated.status).toBe(RunStatus.RUNNING);
    const stage = await waitFor(async () => {
      const m = (await stages.next(20_000)).data!.stageProgress;
      return m.name === 'thumbnail' ? m : null;
    }, 'the stage');
    expect(stage).toMatchObject({ completedItems: 3, totalItems: 10 });
    const sample = await waitFor(async () => (await metrics.next(20_000)).data!.runMetrics, 'the metrics sample');
    expect(sample.recordsProcessed).toBe(3);
    const line = await waitFor(
      async () => (await logs.next(20_000)).data!.runLogs.lines.find((l) => l.message === 'resizing 10 images'),
      'the log line',
    );
    expect(line.source).toBe('worker');
    // The duplicate counted once, even after everything else was applied.
    await waitFor(async () => ((await app.runs.get(run.id))!.metrics?.recordsProcessed ?? 0) === 3, 'the metrics to be stored');
    expect((await app.runs.stages(run.id)).find((s) => s.name === 'thumbnail')!.completedItems).toBe(3);
    for (const s of [updates, stages, metrics, logs]) s.dispose();
  });

  it('dead-letters a poison record (PostgreSQL and the dead-letter topic) and still applies the next record of its partition', async () => {
    const { run } = await kafkaRun();
    await send('run-events', [
      { key: run.id, value: '{"this is": not json' },
      { key: run.id, value: event(run.id, 'run.status', { status: 'EXPLODED' }) },
      { key: run.id, value: event(run.id, 'run.status', { status: RunStatus.RUNNING }) },
    ]);
    await waitFor(async () => (await app.runs.get(run.id))!.status === RunStatus.RUNNING, 'the next record to apply', 30_000);
    const letters = await waitFor(async () => {
      const page = await app.core.deadLetters.list({ runId: run.id }, { first: 10 });
      return page.totalCount === 2 ? page.edges.map((e) => e.node) : null;
    }, 'both dead letters');
    expect(letters.map((l) => l.reason).sort()).toEqual([
      expect.stringMatching(/^invalid: payload\.status/),
      expect.stringMatching(/^not JSON/),
    ]);
    expect(letters.every((l) => l.status === DeadLetterStatus.PENDING && l.timesSeen === 1)).toBe(true);
    const onTopic = await readTopic(
      'dead-letter',
      (m) => m,
      (seen) => seen.filter((m) => m.key === run.id).length >= 2,
    );
    const mine = onTopic.filter((m) => m.key === run.id);
    expect(mine.map((m) => m.headers[DEAD_LETTER_HEADERS.topic])).toEqual([topics.name('run-events'), topics.name('run-events')]);
    expect(mine[0].value).toBe('{"this is": not json'); // the original value, unchanged
  });

  it('dead-letters an event of an unknown run, and replays it once the run exists', async () => {
    const { run } = await kafkaRun();
    // An event naming a run this gateway does not have (yet): say, restored from a backup later.
    const ghost = crypto.randomUUID();
    await send('run-events', [{ key: ghost, value: event(ghost, 'run.status', { status: RunStatus.RUNNING }) }]);
    const letter = await waitFor(
      async () => (await app.core.deadLetters.list({ runId: ghost }, { first: 1 })).edges[0]?.node,
      'the dead letter',
    );
    expect(letter.reason).toBe(`run ${ghost} does not exist`);
    // Replayed while the run is still missing: it stays PENDING.
    expect(await app.core.deadLetters.replay(letter.id)).toMatchObject({
      status: DeadLetterStatus.PENDING,
      reason: `run ${ghost} does not exist`,
    });
    // The run appears (a copy of a real one under the ghost's id and the next number), then the replay applies it.
    await app.db.sql.query(
      `insert into runs (id, job_id, number, attempt, max_attempts, trigger, status, backend, attempts, alive_until, created_at, updated_at, version)
       select $2, job_id, number + 1000, attempt, max_attempts, trigger, status, backend, attempts, alive_until, created_at, updated_at, 1
       from runs where id = $1`,
      [run.id, ghost],
    );
    const replayed = await app.core.deadLetters.replay(letter.id, { idempotencyKey: `replay-${letter.id}` });
    expect(replayed.status).toBe(DeadLetterStatus.REPLAYED);
    expect((await app.runs.get(ghost))!.status).toBe(RunStatus.RUNNING);
    // The same key again: the same answer, nothing applied twice.
    expect((await app.core.deadLetters.replay(letter.id, { idempotencyKey: `replay-${letter.id}` })).status).toBe(
      DeadLetterStatus.REPLAYED,
    );
  });

  it('never moves a run backwards on out-of-order statuses', async () => {
    const { run } = await kafkaRun();
    await send('run-events', [
      { key: run.id, value: event(run.id, 'run.status', { status: RunStatus.SUCCEEDED }) },
      { key: run.id, value: event(run.id, 'run.status', { status: RunStatus.RUNNING }) },
      {
        key: run.id,
        value: event(run.id, 'run.status', { status: RunStatus.FAILED, error: { message: 'late', kind: ErrorKind.TRANSIENT } }),
      },
    ]);
    await waitFor(async () => (await app.runs.get(run.id))!.status === RunStatus.SUCCEEDED, 'SUCCEEDED');
    // The two later (stale) records were consumed too: a last marker record proves it.
    await send('run-events', [{ key: run.id, value: event(run.id, 'run.heartbeat', {}) }]);
    await waitFor(async () => (await app.ingestStatus!.snapshot()).totalLag === 0, 'the consumer to catch up', 30_000);
    expect((await app.runs.get(run.id))!).toMatchObject({ status: RunStatus.SUCCEEDED, error: null, progress: 1 });
  });

  it('sends a KAFKA run to the workers as a start command (secret params left out), and a stop as a stop command', async () => {
    const { job, run } = await kafkaRun();
    expect(run.status).toBe(RunStatus.PENDING);
    await app.runs.stop(run.id, false).catch(() => undefined); // PENDING and never picked up: CANCELLED at once, no stop sent
    const second = await app.runs.start(job.id);
    await app.runEvents.apply({ runId: second.id, attempt: 1, type: 'run.status', payload: { status: RunStatus.RUNNING } });
    await app.runs.stop(second.id, false);
    const commands = await readTopic(
      'run-commands',
      (m) => ({ key: m.key, command: parseRunCommand(JSON.parse(m.value!)) }),
      // Keys are run ids, so the two runs' commands may sit on different partitions: wait for both.
      (seen) =>
        seen.some((c) => c.command.runId === second.id && c.command.type === 'stop') &&
        seen.some((c) => c.command.runId === run.id && c.command.type === 'start'),
    );
    const start = commands.find((c) => c.command.runId === run.id && c.command.type === 'start')!;
    expect(start.key).toBe(run.id);
    expect(start.command).toMatchObject({ attempt: 1, jobId: job.id });
    const params = start.command.type === 'start' ? start.command.job.source.params : null;
    expect(params).toEqual({ url: 'https://example.com/in.csv' });
    expect(JSON.stringify(commands)).not.toContain('s3cret-token');
    expect(commands.filter((c) => c.command.runId === second.id).map((c) => c.command.type)).toEqual(['start', 'stop']);
  });
});
