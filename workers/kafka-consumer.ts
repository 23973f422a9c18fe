import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { Config } from '../src/config';
import { DEAD_LETTER_HEADERS } from '../src/events/run-event.schema';
import { coerceError } from '../src/errors';
import type { DeadLetterInput } from '../src/kafka/dead-letters.service';
import { isTransientDbError, type EventIngestService, type IngestOutcome, type KafkaRecord } from '../src/kafka/event-ingest.service';
import type { IngestProgress } from '../src/kafka/ingest-status';
import { makeLifecycle } from '../src/lifecycle';
import type { Logger } from '../src/logger';

export interface KafkaConsumerDeps {
  kafka: Kafka;
  /** Produces dead letters to their topic. */
  producer: Pick<Producer, 'send'>;
  ingest: Pick<EventIngestService, 'ingest'>;
  progress: IngestProgress;
  config: Pick<Config, 'kafkaGroupId' | 'kafkaTopics'>;
  logger: Logger;
}

/** Records applied per transaction at most (a fetched batch is cut into pieces this big). */
export const CHUNK = 2000;
/** First pause after the database refused a batch for being away; doubles up to {@link MAX_PAUSE_MS}. */
export const FIRST_PAUSE_MS = 500;
export const MAX_PAUSE_MS = 30_000;
/** First pause before a consumer that crashed for good is replaced; doubles up to {@link MAX_RESTART_MS}. */
export const FIRST_RESTART_MS = 1000;
export const MAX_RESTART_MS = 30_000;

const text = (b: Buffer | null) => (b === null ? null : b.toString('utf8'));

/**
 * The Kafka consumer of run events and log lines: one consumer group (`KAFKA_GROUP_ID`) shared by
 * every gateway replica, so each record is applied by one of them, in partition order (records are
 * keyed by runId, so a run's events keep their order).
 *
 * Each fetched batch goes to the ingest service in pieces of {@link CHUNK} records; the pieces of
 * the partitions of one fetch go together, one transaction for all of them; an offset is resolved (and so committed) only once its piece is durable — applied,
 * or recorded as a dead letter and produced to the dead-letter topic. A redelivered record changes
 * nothing (its eventId). When the database is away, the partition pauses with its offsets
 * uncommitted and resumes after a back-off (doubling up to {@link MAX_PAUSE_MS}); the same records
 * then come again. kafkajs reconnects to a restarted broker by itself, and restarts its consumer
 * after a retriable error; a consumer that crashed otherwise is replaced by a new one, after a
 * back-off (1 s doubling to 30 s) that goes on until one joins the group.
 */
export function makeKafkaConsumer(deps: KafkaConsumerDeps) {
  const { config, progress } = deps;
  const logger = deps.logger.child({ component: 'kafka-consumer' });
  const topics = [config.kafkaTopics.runEvents, config.kafkaTopics.runLogs];
  let consumer: Consumer | null = null;
  let pauseMs = FIRST_PAUSE_MS;
  const resumers = new Set<NodeJS.Timeout>();

  async function deadLetter(letters: DeadLetterInput[]) {
    if (letters.length === 0) return;
    await deps.producer.send({
      topic: config.kafkaTopics.deadLetter,
      acks: -1,
      messages: letters.map((l) => ({
        key: l.key,
        value: l.value,
        headers: {
          [DEAD_LETTER_HEADERS.topic]: l.topic,
          [DEAD_LETTER_HEADERS.partition]: String(l.partition),
          [DEAD_LETTER_HEADERS.offset]: l.offset,
          [DEAD_LETTER_HEADERS.reason]: l.reason.slice(0, 8192),
        },
      })),
    });
  }

  // Pieces of the partitions fetched together, applied together: kafkajs hands each partition's
  // batch to its own eachBatch call; those that arrive in the same turn of the event loop share one
  // ingest call (one transaction) instead of one each.
  let pending: { records: KafkaRecord[]; done: (r: IngestOutcome | Error) => void }[] = [];
  function ingestTogether(records: KafkaRecord[]) {
    return new Promise<IngestOutcome>((resolve, reject) => {
      pending.push({ records, done: (r) => (r instanceof Error ? reject(r) : resolve(r)) });
      if (pending.length > 1) return;
      setImmediate(async () => {
        const group = pending;
        pending = [];
        try {
          const outcome = await deps.ingest.ingest(group.flatMap((g) => g.records));
          // Every piece reports the whole outcome's dead letters once (the first), and its share of what applied.
          group.forEach((g, i) => g.done(i === 0 ? outcome : { ...outcome, applied: 0, deadLetters: [] }));
        } catch (err) {
          for (const g of group) g.done(coerceError(err));
        }
      });
    });
  }

  async function eachBatch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale, pause }: EachBatchPayload) {
    const messages: KafkaMessage[] = batch.messages;
    for (let i = 0; i < messages.length; i += CHUNK) {
      if (!isRunning() || isStale()) return;
      const piece = messages.slice(i, i + CHUNK);
      const records: KafkaRecord[] = piece.map((m) => ({
        topic: batch.topic,
        partition: batch.partition,
        offset: m.offset,
        key: text(m.key),
        value: text(m.value),
      }));
      try {
        const outcome = await ingestTogether(records);
        await deadLetter(outcome.deadLetters);
        progress.applied(outcome.applied);
        progress.setPaused(null);
        pauseMs = FIRST_PAUSE_MS;
      } catch (err) {
        const e = coerceError(err);
        const why = isTransientDbError(err) ? 'the database is unreachable' : `applying failed (${e.message})`;
        logger.warn(
          { err: e, topic: batch.topic, partition: batch.partition, offset: piece[0].offset, pauseMs },
          `kafka consumer: ${why}; pausing the partition`,
        );
        progress.setPaused(why);
        const resume = pause();
        const timer = setTimeout(() => {
          resumers.delete(timer);
          resume();
        }, pauseMs);
        resumers.add(timer);
        pauseMs = Math.min(MAX_PAUSE_MS, pauseMs * 2);
        // Nothing of this piece is resolved: after the pause the same records come again.
        return;
      }
      resolveOffset(piece[piece.length - 1].offset);
      await heartbeat();
      await commitOffsetsIfNecessary();
    }
  }

  let stopping = false;
  let restartTimer: NodeJS.Timeout | null = null;
  let restartMs = FIRST_RESTART_MS;

  /** A consumer of the group, subscribed and running; rejects when the broker cannot be reached. */
  async function run(): Promise<void> {
    const c = deps.kafka.consumer({
      groupId: config.kafkaGroupId,
      sessionTimeout: 30_000,
      heartbeatInterval: 3000,
      maxBytesPerPartition: 4 << 20,
    });
    consumer = c;
    c.on(c.events.GROUP_JOIN, () => {
      progress.setConnected(true);
      restartMs = FIRST_RESTART_MS;
    });
    c.on(c.events.DISCONNECT, () => progress.setConnected(false));
    c.on(c.events.STOP, () => progress.setConnected(false));
    c.on(c.events.CRASH, (e) => {
      progress.setConnected(false);
      logger.error({ err: e.payload.error, restart: e.payload.restart }, `kafka consumer crashed: ${e.payload.error.message}`);
      // kafkajs restarts the consumer itself after a retriable error; after any other it stays
      // down for good, so a new one is started here (the group takes it back at the committed offsets).
      if (!e.payload.restart && consumer === c) restartLater(c);
    });
    try {
      await c.connect();
      await c.subscribe({ topics, fromBeginning: true });
      // Every partition of a fetch at once: their pieces are applied together (ingestTogether).
      await c.run({ eachBatchAutoResolve: false, partitionsConsumedConcurrently: 16, eachBatch });
    } catch (err) {
      await c.disconnect().catch(() => undefined);
      throw err;
    }
  }

  /** Starts a new consumer after a back-off (doubling from 1 s up to {@link MAX_RESTART_MS}) until one runs. */
  function restartLater(old: Consumer | null) {
    if (stopping || restartTimer) return;
    const waitMs = restartMs;
    restartMs = Math.min(MAX_RESTART_MS, restartMs * 2);
    logger.warn({ restartInMs: waitMs }, `kafka consumer: starting a new consumer in ${waitMs} ms`);
    restartTimer = setTimeout(async () => {
      restartTimer = null;
      if (stopping) return;
      await old?.disconnect().catch(() => undefined);
      try {
        await run();
        logger.info({ groupId: config.kafkaGroupId, topics }, 'kafka consumer restarted');
      } catch (err) {
        const e = coerceError(err);
        logger.error({ err: e }, `kafka consumer: restart failed: ${e.message}`);
        restartLater(consumer);
      }
    }, waitMs);
  }

  const lifecycle = makeLifecycle({
    async start() {
      stopping = false;
      restartMs = FIRST_RESTART_MS;
      await run();
      logger.info({ groupId: config.kafkaGroupId, topics }, 'kafka consumer started');
    },
    async stop() {
      stopping = true;
      if (restartTimer) clearTimeout(restartTimer);
      restartTimer = null;
      for (const t of resumers) clearTimeout(t);
      resumers.clear();
      // Stops fetching, lets the batch in flight finish and commits what it resolved, leaves the group.
      await consumer?.disconnect();
      consumer = null;
      progress.setConnected(false);
      logger.info('kafka consumer stopped');
    },
  });
  return lifecycle;
}
