import crypto from 'node:crypto';
import { Kafka, logLevel, Partitioners, type Admin, type Producer, type ProducerConfig } from 'kafkajs';
import type { Disposables } from './disposables';

/**
 * The real broker the tests use: `TEST_KAFKA_BROKERS` (comma-separated host:port), default the
 * single-node broker that `npm run services:up` starts on `127.0.0.1:9092`.
 */
export const KAFKA_BROKERS: string[] = (process.env.TEST_KAFKA_BROKERS ?? '127.0.0.1:9092')
  .split(',')
  .map((b) => b.trim())
  .filter(Boolean);

/** What a test prints when the broker does not answer. */
export const KAFKA_DOWN_HINT = `Kafka is not reachable at ${KAFKA_BROKERS.join(',')}: run npm run services:up (or set TEST_KAFKA_BROKERS)`;

/**
 * A kafkajs client for tests. kafkajs' own logging is off (it would interleave with jest's output);
 * set `TEST_KAFKA_LOG=1` to see its warnings and errors while debugging a test.
 */
export function testKafka(clientId = 'jobwire-test'): Kafka {
  return new Kafka({
    clientId,
    brokers: KAFKA_BROKERS,
    logLevel: process.env.TEST_KAFKA_LOG ? logLevel.WARN : logLevel.NOTHING,
    connectionTimeout: 3000,
  });
}

/** A producer with the default (murmur2, Java-compatible) partitioner, which silences kafkajs' v2 warning. */
export function testProducer(kafka: Kafka, config: ProducerConfig = {}): Producer {
  return kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, ...config });
}

/**
 * Whether a broker answers a metadata request within `timeoutMs` (default 5 s). Never throws.
 */
export async function kafkaAvailable(timeoutMs = 5000): Promise<boolean> {
  const admin = new Kafka({
    clientId: 'jobwire-test-probe',
    brokers: KAFKA_BROKERS,
    logLevel: logLevel.NOTHING,
    connectionTimeout: Math.min(timeoutMs, 3000),
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    await admin.describeCluster();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Throws an error that says how to start the broker when it does not answer (use in `beforeAll`). */
export async function requireKafka(): Promise<void> {
  if (!(await kafkaAvailable())) throw new Error(KAFKA_DOWN_HINT);
}

/** Topics made for one test file by {@link createTestTopics}. */
export interface TestTopics {
  /** The random part shared by every name of this set (for other names that must not clash). */
  readonly token: string;
  /** The full topic name for `suffix` (one of the suffixes it was created with). */
  name(suffix: string): string;
  /** Every full topic name of this set. */
  readonly names: string[];
  /** A consumer group id unique to this set, `jobwire.test.<label>.<token>.<what>`; deleted with the topics. */
  groupId(what?: string): string;
  /** Deletes the consumer groups named with {@link groupId} (once their members have left), then the topics. Safe to call twice. */
  delete(): Promise<void>;
}

function slug(label: string): string {
  return (
    label
      .replace(/\.test\.ts$/, '')
      .replace(/[^A-Za-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60) || 'test'
  );
}

/**
 * Creates topics with names unique to this call, `jobwire.test.<label>.<random>.<suffix>` (label
 * e.g. the test file's name), each with `partitions` partitions (default 1) and one replica, and
 * waits until their leaders are elected. With `disposables`, their deletion is registered there;
 * otherwise call `delete()` in `afterAll`. Throws {@link KAFKA_DOWN_HINT} when the broker is down.
 */
export async function createTestTopics(
  label: string,
  suffixes: string[] = ['run-events'],
  opts: { partitions?: number; kafka?: Kafka; disposables?: Disposables } = {},
): Promise<TestTopics> {
  const token = crypto.randomBytes(4).toString('hex');
  const prefix = `jobwire.test.${slug(label)}.${token}`;
  const names = suffixes.map((s) => `${prefix}.${s}`);
  const groups: string[] = [];
  const admin: Admin = (opts.kafka ?? testKafka()).admin();
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`${KAFKA_DOWN_HINT} (${(err as Error).message})`, { cause: err });
  }
  let deleted = false;
  const topics: TestTopics = {
    token,
    names,
    name(suffix) {
      const i = suffixes.indexOf(suffix);
      if (i < 0) throw new Error(`no test topic with suffix ${suffix} (have ${suffixes.join(', ')})`);
      return names[i];
    },
    groupId(what = 'group') {
      const name = `${prefix}.${what}`;
      groups.push(name);
      return name;
    },
    async delete() {
      if (deleted) return;
      deleted = true;
      try {
        // Groups first: a group with committed offsets for a deleted topic is left behind otherwise.
        if (groups.length) await admin.deleteGroups(groups).catch(() => undefined);
        await admin.deleteTopics({ topics: names, timeout: 10_000 });
      } finally {
        await admin.disconnect();
      }
    },
  };
  opts.disposables?.defer(() => topics.delete());
  try {
    await admin.createTopics({
      topics: names.map((topic) => ({ topic, numPartitions: opts.partitions ?? 1, replicationFactor: 1 })),
      waitForLeaders: true,
    });
  } catch (err) {
    await topics.delete().catch(() => undefined);
    throw new Error(`could not create the test topics ${names.join(', ')}: ${(err as Error).message}`, { cause: err });
  }
  return topics;
}

/** A gateway's `kafkaTopics` over a test's topics (made with the suffixes run-events, run-logs, run-commands, dead-letter). */
export function gatewayTopics(topics: TestTopics) {
  return {
    runEvents: topics.name('run-events'),
    runLogs: topics.name('run-logs'),
    runCommands: topics.name('run-commands'),
    deadLetter: topics.name('dead-letter'),
  };
}
