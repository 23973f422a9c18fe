import { Kafka, logLevel, Partitioners, type Admin, type LogEntry, type Producer } from 'kafkajs';
import type { Config } from '../config';
import type { Logger } from '../logger';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * The gateway's Kafka client (kafkajs), logging through the gateway's logger (component `kafka`).
 * kafkajs' INFO lines (group joins, …) go out at debug: they are frequent and expected.
 */
export function makeKafka(config: Pick<Config, 'kafkaBrokers'>, logger: Logger, clientId: string): Kafka {
  const log = logger.child({ component: 'kafka' });
  return new Kafka({
    clientId,
    brokers: config.kafkaBrokers ?? [],
    logLevel: logLevel.INFO,
    connectionTimeout: 5000,
    retry: { initialRetryTime: 300, retries: 8 },
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        const at = level === logLevel.INFO ? 'debug' : (LEVELS[level] ?? 'debug');
        log[at]({ kafka: rest }, `kafkajs: ${message}`);
      },
  });
}

/** A producer as jobwire uses them: idempotent (no duplicate on a retry), acks from all replicas, the Java-compatible partitioner. */
export function makeProducer(kafka: Kafka): Producer {
  return kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
    retry: { retries: 5 },
  });
}

/** The gateway's connections to Kafka: a client, a producer (commands, dead letters) and an admin client (lag). */
export interface KafkaConnections {
  kafka: Kafka;
  producer: Producer;
  admin: Admin;
  /** Disconnects the producer and the admin client. Never rejects. */
  close(): Promise<void>;
}

/** Connects to Kafka (`KAFKA_BROKERS`). Rejects when the brokers cannot be reached (after kafkajs' retries). */
export async function openKafka(config: Pick<Config, 'kafkaBrokers'>, logger: Logger, clientId: string): Promise<KafkaConnections> {
  const kafka = makeKafka(config, logger, clientId);
  const producer = makeProducer(kafka);
  const admin = kafka.admin();
  try {
    await producer.connect();
    await admin.connect();
  } catch (err) {
    await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
    throw new Error(`Kafka at ${(config.kafkaBrokers ?? []).join(',')} cannot be reached: ${(err as Error).message}`, { cause: err });
  }
  return {
    kafka,
    producer,
    admin,
    async close() {
      await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
    },
  };
}

/**
 * Creates those of the gateway's topics that do not exist yet, with `partitions` partitions each
 * (replication 1 on a one-broker cluster, else up to 3). Returns the topics it created. A broker
 * that refuses (e.g. the gateway may not create topics there) is logged, not fatal: the consumer
 * then waits for the topics to appear.
 */
export async function ensureTopics(
  admin: Pick<Admin, 'listTopics' | 'createTopics' | 'describeCluster'>,
  topics: readonly string[],
  partitions: number,
  logger: Logger,
): Promise<string[]> {
  if (partitions <= 0) return [];
  try {
    const existing = new Set(await admin.listTopics());
    const missing = [...new Set(topics)].filter((t) => !existing.has(t));
    if (missing.length === 0) return [];
    const brokers = (await admin.describeCluster()).brokers.length;
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: Math.min(3, brokers) })),
    });
    logger.info({ component: 'kafka', topics: missing, partitions }, 'created missing Kafka topics');
    return missing;
  } catch (err) {
    logger.warn(
      { component: 'kafka', topics, err: { message: (err as Error).message } },
      'could not create the Kafka topics (set KAFKA_TOPIC_PARTITIONS=0 where they are provisioned elsewhere)',
    );
    return [];
  }
}
