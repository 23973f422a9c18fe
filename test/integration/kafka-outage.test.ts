/**
 * The Kafka consumer through a broker outage, on a broker of this file's own (scripts/services/kafka.sh
 * on free ports; never the shared one): events applied before the broker stops, `/readyz` says
 * `checks.kafka` is not ok while it is away, and once the same broker is back the gateway — nobody
 * restarts it — consumes what was produced afterwards, each increment once.
 */
import crypto from 'node:crypto';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import type { App } from '../../src/app';
import { ExecutionBackend, RunStatus, SourceType } from '../../src/domain';
import { startTestApp } from '../helpers/app';
import { createTestDatabase, uniqueRedisPrefix } from '../helpers/db';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';
import { testProducer } from '../helpers/kafka';
import { canRunPrivateKafka, startPrivateKafka, type PrivateKafka } from '../helpers/private-kafka';

const disposables = new Disposables();
afterAll(() => disposables.disposeAll());

const increments = (runId: string, n: number) =>
  Array.from({ length: n }, () => ({
    key: runId,
    value: JSON.stringify({
      eventId: crypto.randomUUID(),
      runId,
      type: 'stage.progress',
      attempt: 1,
      producer: 'kafka-outage-test',
      payload: { stage: 'items', totalItems: 200, increment: 1 },
    }),
  }));

async function readyz(app: App): Promise<Record<string, string>> {
  return ((await (await fetch(`${app.url}/readyz`)).json()) as { checks: Record<string, string> }).checks;
}

(canRunPrivateKafka() ? describe : describe.skip)('Kafka broker down and back', () => {
  let broker: PrivateKafka;

  beforeAll(async () => {
    broker = await startPrivateKafka();
    disposables.defer(() => broker.destroy());
  }, 120_000);

  it('the consumer resumes by itself once the broker is back, and applies what came meanwhile once', async () => {
    const db = disposables.add(await createTestDatabase('kafkaoutage'), (d) => d.drop());
    const topics = {
      runEvents: 'outage.run-events',
      runLogs: 'outage.run-logs',
      runCommands: 'outage.run-commands',
      deadLetter: 'outage.dead',
    };
    const app: App = await startTestApp({
      databaseUrl: db.url,
      redisPrefix: uniqueRedisPrefix('kafkaoutage'),
      kafkaBrokers: [broker.broker],
      kafkaGroupId: 'outage-gateways',
      kafkaTopics: topics,
      kafkaTopicPartitions: 1,
    });
    disposables.defer(() => app.stop());
    await waitFor(async () => (await readyz(app)).kafka === 'ok', 'the consumer to join its group', 60_000);

    const job = await app.jobs.create({
      name: 'kafka-outage',
      backend: ExecutionBackend.KAFKA,
      source: { type: SourceType.LOCAL, params: { path: '/data/in.csv' } },
      destination: { schema: 'public', table: 'outage' },
    });
    const run = await app.runs.start(job.id);
    await app.runEvents.apply({ runId: run.id, attempt: 1, type: 'run.status', payload: { status: RunStatus.RUNNING } });
    const items = async () => (await app.runs.stages(run.id)).find((s) => s.name === 'items')?.completedItems ?? 0;

    const kafka = new Kafka({ clientId: 'kafka-outage-test', brokers: [broker.broker], logLevel: logLevel.NOTHING });
    let producer: Producer = testProducer(kafka);
    await producer.connect();
    await producer.send({ topic: topics.runEvents, acks: -1, messages: increments(run.id, 100) });
    await waitFor(async () => (await items()) === 100, 'the first 100 increments', 30_000);

    await producer.disconnect();
    await broker.stop();
    await waitFor(async () => (await readyz(app)).kafka !== 'ok', '/readyz to say the consumer is not connected', 90_000);

    await broker.start();
    producer = testProducer(kafka, { retry: { retries: 10 } });
    await producer.connect();
    disposables.defer(() => producer.disconnect());
    await producer.send({ topic: topics.runEvents, acks: -1, messages: increments(run.id, 100) });
    await waitFor(async () => (await items()) >= 200, 'the increments produced after the restart', 120_000);
    await waitFor(async () => (await readyz(app)).kafka === 'ok', '/readyz to say the consumer is back', 60_000);
    expect(await items()).toBe(200);
  }, 400_000);
});
