/**
 * The real Kafka broker of `npm run services:up` (KRaft, one node) works with kafkajs the way the
 * run-event consumers will use it: keyed produce, a consumer group reading with `eachBatch` and
 * manual offset resolution, commits, and a new member resuming at the committed offsets.
 */
import path from 'node:path';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';
import { createTestTopics, requireKafka, testKafka, testProducer, type TestTopics } from '../helpers/kafka';

const KEYS = 10;
const PER_KEY = 100;
const PARTITIONS = 3;

interface Received {
  key: string;
  seq: number;
  partition: number;
  offset: number;
}

const disposables = new Disposables();
let kafka: Kafka;
let admin: Admin;
let topics: TestTopics;
let topic: string;
let groupId: string;

beforeAll(async () => {
  await requireKafka();
  kafka = testKafka('kafka-broker-test');
  topics = await createTestTopics(path.basename(__filename), ['run-events'], { partitions: PARTITIONS, kafka, disposables });
  topic = topics.name('run-events');
  groupId = topics.groupId();
  admin = kafka.admin();
  await admin.connect();
  disposables.defer(() => admin.disconnect());
});

afterAll(() => disposables.disposeAll());

/** A group member that records every message it is given, resolving and committing as it goes. */
async function startMember(sink: Received[]): Promise<Consumer> {
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 500 });
  disposables.add(consumer, (c) => c.disconnect());
  await consumer.connect();
  // fromBeginning applies only without a committed offset: a resumed member must not see old messages.
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }) => {
      for (const message of batch.messages) {
        if (!isRunning() || isStale()) break;
        const value = JSON.parse(message.value!.toString()) as { seq: number };
        sink.push({ key: message.key!.toString(), seq: value.seq, partition: batch.partition, offset: Number(message.offset) });
        resolveOffset(message.offset);
        await heartbeat();
      }
      await commitOffsetsIfNecessary();
    },
  });
  return consumer;
}

/** partition → committed offset of the group (-1 for none). */
async function committed(): Promise<Map<number, number>> {
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map(offsets.partitions.map((p) => [p.partition, Number(p.offset)]));
}

/** partition → high watermark (the offset the next message will get). */
async function highWatermarks(): Promise<Map<number, number>> {
  return new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
}

it('delivers 1,000 keyed messages to a consumer group exactly once, in order per key, and commits them', async () => {
  const producer = testProducer(kafka, { idempotent: true, maxInFlightRequests: 1, retry: { retries: 5 } });
  disposables.add(producer, (p) => p.disconnect());
  await producer.connect();
  // Keys interleaved (key-0 #0, key-1 #0, …, key-9 #99), sent in ten awaited chunks.
  const all = Array.from({ length: KEYS * PER_KEY }, (_, i) => ({ key: `key-${i % KEYS}`, seq: Math.floor(i / KEYS) }));
  for (let i = 0; i < all.length; i += 100) {
    const messages = all.slice(i, i + 100).map((m) => ({ key: m.key, value: JSON.stringify({ seq: m.seq }) }));
    await producer.send({ topic, acks: -1, messages });
  }
  const produced = await highWatermarks();
  expect([...produced.values()].reduce((a, b) => a + b, 0)).toBe(KEYS * PER_KEY);

  const received: Received[] = [];
  const member = await startMember(received);
  await waitFor(() => received.length >= KEYS * PER_KEY, `${KEYS * PER_KEY} messages (have ${received.length})`, 45_000);
  // Committed means: the group's offset on every partition reached its end.
  await waitFor(
    async () => {
      const c = await committed();
      return [...produced].every(([p, high]) => c.get(p) === high);
    },
    'the group to commit every partition to its end',
    15_000,
  );
  await member.disconnect();

  expect(received).toHaveLength(KEYS * PER_KEY);
  expect(new Set(received.map((r) => `${r.key}#${r.seq}`)).size).toBe(KEYS * PER_KEY);
  for (let k = 0; k < KEYS; k++) {
    const ofKey = received.filter((r) => r.key === `key-${k}`);
    expect(ofKey.map((r) => r.seq)).toEqual(Array.from({ length: PER_KEY }, (_, i) => i));
    // One key, one partition: that is what makes the order per key hold.
    expect(new Set(ofKey.map((r) => r.partition)).size).toBe(1);
  }
});

it('resumes a new member of the group at the committed offsets: it gets only what came after', async () => {
  const before = await committed();
  const producer = testProducer(kafka);
  disposables.add(producer, (p) => p.disconnect());
  await producer.connect();
  // One marker per partition, written explicitly there: a member that started anywhere before the
  // committed offset would receive old messages of that partition before its marker.
  for (let partition = 0; partition < PARTITIONS; partition++)
    await producer.send({ topic, acks: -1, messages: [{ key: 'marker', partition, value: JSON.stringify({ seq: -1 }) }] });

  const received: Received[] = [];
  await startMember(received);
  await waitFor(() => new Set(received.map((r) => r.partition)).size === PARTITIONS, 'a marker from every partition', 45_000);

  expect(received.map((r) => r.key)).toEqual(Array(PARTITIONS).fill('marker'));
  for (const r of received) expect(r.offset).toBe(before.get(r.partition));
});
