/**
 * Kafka ingestion through the API, against the real broker: dead letters listed (filtered, paged,
 * secrets masked), replayed and discarded over GraphQL with idempotency keys; the consumer group's
 * status as a query (per-partition lag, events applied per second by every replica, pending dead
 * letters), also on a replica that does not consume; and live as `ingestStatusUpdated`. Without
 * Kafka, `ingestStatus` is null and its subscription says why.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import type { Kafka, Producer } from 'kafkajs';
import type { App } from '../../src/app';
import { DeadLetterStatus, ExecutionBackend, RunStatus, SourceType } from '../../src/domain';
import {
  DeadLettersDocument,
  type DeadLettersQueryVariables,
  DiscardDeadLetterDocument,
  IngestStatusDocument,
  IngestStatusUpdatedDocument,
  ReplayDeadLetterDocument,
} from '../../client/generated/graphql';
import { httpUrl, startTestApp, wsUrl } from '../helpers/app';
import { createTestDatabase, uniqueRedisPrefix } from '../helpers/db';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';
import { gql, ok, onlyError } from '../helpers/http';
import { createTestTopics, KAFKA_BROKERS, requireKafka, testKafka, testProducer, type TestTopics, gatewayTopics } from '../helpers/kafka';
import { createWsClient } from '../helpers/ws-client';

const disposables = new Disposables();
/** The consuming gateway. */
let app: App;
/** A replica in the same group and on the same bus that runs no workers (an API-only replica). */
let apiOnly: App;
let kafka: Kafka;
let producer: Producer;
let topics: TestTopics;

beforeAll(async () => {
  await requireKafka();
  kafka = testKafka('kafka-api-test');
  topics = await createTestTopics(path.basename(__filename), ['run-events', 'run-logs', 'run-commands', 'dead-letter'], {
    partitions: 2,
    kafka,
    disposables,
  });
  producer = testProducer(kafka, { idempotent: true, retry: { retries: 5 } });
  await producer.connect();
  disposables.defer(() => producer.disconnect());
  const db = disposables.add(await createTestDatabase('kafkaapi'), (d) => d.drop());
  const shared = {
    databaseUrl: db.url,
    redisPrefix: uniqueRedisPrefix('kafkaapi'),
    kafkaBrokers: KAFKA_BROKERS,
    kafkaGroupId: topics.groupId('gateway'),
    kafkaTopics: gatewayTopics(topics),
  };
  app = await startTestApp(shared);
  disposables.defer(() => app.stop());
  apiOnly = await startTestApp({ ...shared, workers: false, migrate: false });
  disposables.defer(() => apiOnly.stop());
  await waitFor(() => app.ingestStatus?.readiness() === 'ok', 'the consumer to join its group', 60_000);
}, 120_000);
afterAll(() => disposables.disposeAll());

async function kafkaRun() {
  const job = await app.jobs.create({
    name: `kafka-api-${crypto.randomBytes(3).toString('hex')}`,
    backend: ExecutionBackend.KAFKA,
    source: { type: SourceType.HTTP, params: { url: 'https://example.com/in.csv' } },
    destination: { schema: 'public', table: 'kafka_api_out' },
  });
  return app.runs.start(job.id);
}

const event = (runId: string, type: string, payload: object, extra: object = {}) => ({
  eventId: crypto.randomUUID(),
  runId,
  type,
  occurredAt: new Date().toISOString(),
  producer: 'kafka-api-test',
  attempt: 1,
  payload,
  ...extra,
});

const send = (records: { key: string; value: object | string }[]) =>
  producer.send({
    topic: topics.name('run-events'),
    acks: -1,
    messages: records.map((r) => ({ key: r.key, value: typeof r.value === 'string' ? r.value : JSON.stringify(r.value) })),
  });

const deadLetters = (a: App, variables: DeadLettersQueryVariables) => gql(httpUrl(a), DeadLettersDocument, variables);

describe('dead letters over GraphQL', () => {
  it('lists them newest first, filtered and paged, every secret of the payload masked', async () => {
    const run = await kafkaRun();
    await send([
      // Invalid statuses; the first carries secrets at two levels (the envelope and its payload).
      { key: run.id, value: event(run.id, 'run.status', { status: 'EXPLODED', password: 'hunter2' }, { apiToken: 'tok-123' }) },
      { key: run.id, value: event(run.id, 'run.status', { status: 'IMPLODED' }) },
      { key: run.id, value: '{"not json' },
    ]);
    const all = await waitFor(
      async () => {
        const page = ok(await deadLetters(app, { filter: { runId: run.id } })).deadLetters;
        return page.totalCount === 3 ? page : null;
      },
      'three dead letters',
      30_000,
    );
    const nodes = all.edges.map((e) => e.node);
    // Newest first: the last record produced (the one that is not JSON) comes first.
    expect(nodes.map((n) => n.offset)).toEqual([...nodes.map((n) => n.offset)].sort((a, b) => Number(b) - Number(a)));
    expect(nodes[0]).toMatchObject({ runId: run.id, key: run.id, topic: topics.name('run-events'), status: DeadLetterStatus.PENDING });
    expect(nodes[0].reason).toMatch(/^not JSON/);
    const secretOne = nodes.find((n) => JSON.stringify(n.payload).includes('EXPLODED'))!;
    expect(JSON.stringify(secretOne.payload)).not.toMatch(/hunter2|tok-123/);
    expect(secretOne.payload).toMatchObject({ apiToken: '***', payload: { password: '***', status: 'EXPLODED' } });
    expect(secretOne.eventId).toMatch(/^[0-9a-f-]{36}$/);

    // Pages of two: the same three, in the same order, no overlap.
    const first = ok(await deadLetters(app, { filter: { runId: run.id }, first: 2 })).deadLetters;
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = ok(await deadLetters(app, { filter: { runId: run.id }, first: 2, after: first.pageInfo.endCursor })).deadLetters;
    expect(second.pageInfo.hasNextPage).toBe(false);
    expect([...first.edges, ...second.edges].map((e) => e.node.id)).toEqual(nodes.map((n) => n.id));

    // Filters: another topic has none of this run's; the API-only replica serves the same list.
    expect(ok(await deadLetters(app, { filter: { runId: run.id, topic: topics.name('run-logs') } })).deadLetters.totalCount).toBe(0);
    expect(ok(await deadLetters(apiOnly, { filter: { runId: run.id, status: DeadLetterStatus.PENDING } })).deadLetters.totalCount).toBe(3);
    // A run id that is not a uuid finds nothing (no error).
    expect(ok(await deadLetters(app, { filter: { runId: 'not-a-uuid' } })).deadLetters).toMatchObject({ totalCount: 0, edges: [] });
  });

  it('replays one (PENDING with the new reason while it still fails, REPLAYED once it applies) and discards another, each key doing it once', async () => {
    const run = await kafkaRun();
    const ghost = crypto.randomUUID();
    await send([
      { key: ghost, value: event(ghost, 'run.status', { status: RunStatus.RUNNING }) },
      { key: run.id, value: event(run.id, 'run.status', { status: 'EXPLODED' }) },
    ]);
    const letterOf = (runId: string) =>
      waitFor(
        async () => ok(await deadLetters(app, { filter: { runId } })).deadLetters.edges[0]?.node,
        `the dead letter of ${runId}`,
        30_000,
      );
    const ghostLetter = await letterOf(ghost);
    const badLetter = await letterOf(run.id);
    expect(ghostLetter.reason).toBe(`run ${ghost} does not exist`);

    // Still no such run: it stays PENDING, with the reason of this attempt.
    const again = ok(await gql(httpUrl(app), ReplayDeadLetterDocument, { id: ghostLetter.id })).replayDeadLetter;
    expect(again).toMatchObject({ status: DeadLetterStatus.PENDING, reason: `run ${ghost} does not exist` });

    // The run appears (restored under that id); the replay applies the event, once per key.
    await app.db.sql.query(
      `insert into runs (id, job_id, number, attempt, max_attempts, trigger, status, backend, attempts, alive_until, created_at, updated_at, version)
       select $2, job_id, number + 1000, attempt, max_attempts, trigger, status, backend, attempts, alive_until, created_at, updated_at, 1
       from runs where id = $1`,
      [run.id, ghost],
    );
    const key = `replay-${ghostLetter.id}`;
    const replayed = ok(await gql(httpUrl(app), ReplayDeadLetterDocument, { id: ghostLetter.id, idempotencyKey: key })).replayDeadLetter;
    expect(replayed.status).toBe(DeadLetterStatus.REPLAYED);
    expect((await app.runs.get(ghost))!.status).toBe(RunStatus.RUNNING);
    expect(ok(await gql(httpUrl(app), ReplayDeadLetterDocument, { id: ghostLetter.id, idempotencyKey: key })).replayDeadLetter).toEqual(
      replayed,
    );

    const discarded = ok(
      await gql(httpUrl(app), DiscardDeadLetterDocument, { id: badLetter.id, idempotencyKey: `discard-${badLetter.id}` }),
    ).discardDeadLetter;
    expect(discarded.status).toBe(DeadLetterStatus.DISCARDED);
    // A replay of a discarded letter applies nothing and leaves it as it is.
    expect(ok(await gql(httpUrl(app), ReplayDeadLetterDocument, { id: badLetter.id })).replayDeadLetter.status).toBe(
      DeadLetterStatus.DISCARDED,
    );
    const byStatus = ok(await deadLetters(app, { filter: { status: DeadLetterStatus.DISCARDED } })).deadLetters;
    expect(byStatus.edges.map((e) => e.node.id)).toContain(badLetter.id);
  });

  it('refuses an unknown id (NOT_FOUND) and a bad idempotency key (BAD_USER_INPUT naming it), changing nothing', async () => {
    const unknown = onlyError(await gql(httpUrl(app), ReplayDeadLetterDocument, { id: crypto.randomUUID() }));
    expect(unknown.extensions?.code).toBe('NOT_FOUND');
    const run = await kafkaRun();
    await send([{ key: run.id, value: event(run.id, 'run.status', { status: 'WOBBLING' }) }]);
    const letter = await waitFor(
      async () => ok(await deadLetters(app, { filter: { runId: run.id } })).deadLetters.edges[0]?.node,
      'the dead letter',
      30_000,
    );
    for (const doc of [ReplayDeadLetterDocument, DiscardDeadLetterDocument]) {
      const err = onlyError(await gql(httpUrl(app), doc, { id: letter.id, idempotencyKey: '' }));
      expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'idempotencyKey' });
    }
    const after = ok(await deadLetters(app, { filter: { runId: run.id } })).deadLetters.edges[0].node;
    expect(after).toEqual(letter);
  });
});

describe('the consumer group status', () => {
  it('ingestStatus: lag per partition of both topics, the rate of the whole group, pending dead letters — also on a replica that does not consume', async () => {
    const run = await kafkaRun();
    await send([{ key: run.id, value: event(run.id, 'run.status', { status: RunStatus.RUNNING }) }]);
    const increments = Array.from({ length: 200 }, () => ({
      key: run.id,
      value: event(run.id, 'stage.progress', { stage: 'load', totalItems: 1000, increment: 1 }),
    }));
    await send(increments);
    // The API-only replica consumes nothing itself: what it reports comes from the consumer's reports and the broker.
    const seen = await waitFor(
      async () => {
        const s = ok(await gql(httpUrl(apiOnly), IngestStatusDocument)).ingestStatus!;
        return s.appliedPerSecond > 0 && s.totalLag === 0 ? s : null;
      },
      'the API-only replica to see the group apply the increments and catch up',
      30_000,
    );
    expect(seen.connected).toBe(true);
    expect(seen.groupId).toBe(topics.groupId('gateway'));
    expect(seen.partitions.map((p) => `${p.topic}/${p.partition}`).sort()).toEqual(
      [topics.name('run-events'), topics.name('run-logs')].flatMap((t) => [`${t}/0`, `${t}/1`]).sort(),
    );
    const events = seen.partitions.filter((p) => p.topic === topics.name('run-events'));
    expect(events.reduce((a, p) => a + Number(p.endOffset), 0)).toBeGreaterThanOrEqual(201);
    // Caught up: committed at the end, or (a partition no record went to) nothing to commit at all.
    expect(
      events.every((p) => p.lag === 0 && (p.committedOffset === p.endOffset || (p.committedOffset === null && p.endOffset === '0'))),
    ).toBe(true);
    expect(events.some((p) => p.committedOffset !== null && Number(p.committedOffset) > 0)).toBe(true);
    expect(seen.deadLettersPending).toBe(await app.core.deadLetters.pendingCount());
    expect((await app.runs.stages(run.id)).find((s) => s.name === 'load')!.completedItems).toBe(200);
  });

  it('ingestStatusUpdated: the status now, then a new one when events move, at most one per 2 s', async () => {
    const ws = disposables.add(await createWsClient(wsUrl(apiOnly)), (c) => c.dispose());
    const sub = ws.subscribe(IngestStatusUpdatedDocument);
    const first = (await sub.next(20_000)).data!.ingestStatusUpdated;
    expect(first.groupId).toBe(topics.groupId('gateway'));
    const run = await kafkaRun();
    const endBefore = first.partitions.reduce((a, p) => a + Number(p.endOffset), 0);
    await send([{ key: run.id, value: event(run.id, 'run.status', { status: RunStatus.RUNNING }) }]);
    await send(Array.from({ length: 100 }, () => ({ key: run.id, value: event(run.id, 'run.heartbeat', {}) })));
    // Messages while the events move: the end offsets grow by what was produced, and the group applies them.
    const moved = await sub.waitFor((m) => {
      const s = m.data!.ingestStatusUpdated;
      return s.partitions.reduce((a, p) => a + Number(p.endOffset), 0) >= endBefore + 101 && s.totalLag === 0;
    }, 30_000);
    expect(moved.data!.ingestStatusUpdated.connected).toBe(true);
    const updates = [first, ...sub.all().map((m) => m.data!.ingestStatusUpdated)];
    for (let i = 1; i < updates.length; i++) {
      expect(Date.parse(updates[i].updatedAt) - Date.parse(updates[i - 1].updatedAt)).toBeGreaterThanOrEqual(1900);
    }
    // Once nothing moves, the rate falls back to zero (a last message says so) and the messages stop.
    const quiet = await sub.waitFor((m) => m.data!.ingestStatusUpdated.appliedPerSecond === 0, 30_000);
    expect(quiet.data!.ingestStatusUpdated.totalLag).toBe(0);
    sub.dispose();
  });

  it('without Kafka: ingestStatus is null, ingestStatusUpdated is UNAVAILABLE, dead letters an empty list', async () => {
    const db = disposables.add(await createTestDatabase('kafkaapinone'), (d) => d.drop());
    const plain = await startTestApp({ databaseUrl: db.url, redisPrefix: uniqueRedisPrefix('kafkaapinone'), workers: false });
    disposables.defer(() => plain.stop());
    expect(ok(await gql(httpUrl(plain), IngestStatusDocument)).ingestStatus).toBeNull();
    expect(ok(await deadLetters(plain, {})).deadLetters).toMatchObject({ totalCount: 0, edges: [] });
    const ws = disposables.add(await createWsClient(wsUrl(plain)), (c) => c.dispose());
    const msg = await ws.subscribe(IngestStatusUpdatedDocument).next();
    expect(msg.errors?.[0]).toMatchObject({ extensions: { code: 'UNAVAILABLE' }, message: expect.stringMatching(/KAFKA_BROKERS/) });
  });
});

describe('topics', () => {
  it('a gateway creates the topics it uses when they are missing (KAFKA_TOPIC_PARTITIONS partitions), none with 0', async () => {
    const admin = kafka.admin();
    await admin.connect();
    disposables.defer(() => admin.disconnect());
    const fresh = (what: string) => `jobwire.test.kafka-api.${topics.token}.fresh-${what}`;
    const kafkaTopics = { runEvents: fresh('events'), runLogs: fresh('logs'), runCommands: fresh('commands'), deadLetter: fresh('dead') };
    disposables.defer(() => admin.deleteTopics({ topics: Object.values(kafkaTopics), timeout: 10_000 }).catch(() => undefined));
    const db = disposables.add(await createTestDatabase('kafkaapitopics'), (d) => d.drop());
    const base = { databaseUrl: db.url, redisPrefix: uniqueRedisPrefix('kafkaapitopics'), kafkaBrokers: KAFKA_BROKERS, workers: false };

    const none = await startTestApp({ ...base, kafkaTopics, kafkaTopicPartitions: 0 });
    await none.stop();
    expect((await admin.listTopics()).filter((t) => Object.values(kafkaTopics).includes(t))).toEqual([]);

    const creating = await startTestApp({ ...base, kafkaTopics, kafkaTopicPartitions: 3 });
    disposables.defer(() => creating.stop());
    const meta = await admin.fetchTopicMetadata({ topics: Object.values(kafkaTopics) });
    expect(meta.topics.map((t) => [t.name, t.partitions.length]).sort()).toEqual(
      Object.values(kafkaTopics)
        .map((t) => [t, 3])
        .sort(),
    );
  });
});
