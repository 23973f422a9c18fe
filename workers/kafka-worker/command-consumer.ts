import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { coerceError } from '../../src/errors';
import { parseRunCommand, type RunCommand } from '../../src/events/run-event.schema';
import type { Logger } from '../../src/logger';

/** What the worker did with a command: `taken` (its offset is committed now), `busy` (no free slot: read it again later). */
export type CommandOutcome = 'taken' | 'busy';

export interface CommandConsumerOptions {
  kafka: Kafka;
  groupId: string;
  topic: string;
  /** Where a group without a committed offset starts (see `WorkerConfig.fromBeginning`). */
  fromBeginning: boolean;
  /** See `WorkerConfig.sessionTimeoutMs`. Default 30 s. */
  sessionTimeoutMs?: number;
  logger: Logger;
  /**
   * Decides on one valid command, synchronously. `busy` (only for a `start`) pauses the partition
   * until {@link CommandConsumer.resume}, and the command is read again then; a `stop` is always
   * `taken`. Must not throw (a throw is logged and the command skipped).
   */
  onCommand(command: RunCommand): CommandOutcome;
}

export interface CommandConsumer {
  /** Connects, subscribes and resolves once this member has joined the group (its partitions are assigned). Rejects when the consumer crashes first. */
  start(): Promise<void>;
  /** Resumes the partitions paused while the worker was busy (a slot is free). */
  resume(): void;
  /** Stops fetching, commits what was taken, leaves the group. Never rejects. */
  stop(): Promise<void>;
}

/** Longest a fetch waits on an idle topic, in ms: how soon a resumed partition is read again. */
const MAX_WAIT_MS = 1000;

/**
 * The kafkajs consumer of `jobwire.run-commands`, in the group every worker shares, so each command
 * is handled by one worker. A command's offset is committed as soon as the worker has taken it (a
 * `start` handed to an execution, not when the run ends: a long run must not hold its partition;
 * a worker killed mid-run loses that run, and jobwire's stuck monitor retries it). When every slot
 * is busy the partition is paused on the `start` that found no room and read again from it once a
 * run ends — the back-pressure of STYLE.md 13; the `stop`s fetched behind it are applied at once
 * anyway, so a run executing here can be stopped while its partition waits. A record that is not a
 * valid command is logged and skipped: it never blocks the partition.
 */
export function makeCommandConsumer(opts: CommandConsumerOptions): CommandConsumer {
  const { topic, logger } = opts;
  const sessionTimeout = opts.sessionTimeoutMs ?? 30_000;
  const consumer: Consumer = opts.kafka.consumer({
    groupId: opts.groupId,
    maxWaitTimeInMs: MAX_WAIT_MS,
    sessionTimeout,
    heartbeatInterval: Math.max(500, Math.floor(sessionTimeout / 10)),
  });
  const paused = new Set<number>();
  let stopped = false;

  const parse = (message: KafkaMessage, partition: number): RunCommand | null => {
    try {
      if (!message.value) throw new Error('the record has no value');
      return parseRunCommand(JSON.parse(message.value.toString('utf8')));
    } catch (err) {
      const e = coerceError(err);
      logger.warn(
        { partition, offset: message.offset },
        `kafka worker: skipping an invalid command at ${topic}[${partition}]@${message.offset}: ${e.message}`,
      );
      return null;
    }
  };

  const decide = (command: RunCommand): CommandOutcome => {
    try {
      return opts.onCommand(command);
    } catch (err) {
      const e = coerceError(err);
      logger.error({ err: e, runId: command.runId }, `kafka worker: ${command.type} command of run ${command.runId} failed: ${e.message}`);
      return 'taken';
    }
  };

  async function run(): Promise<void> {
    await consumer.run({
      eachBatchAutoResolve: false,
      // Every taken command is committed at once (commitOffsetsIfNecessary after each).
      autoCommitThreshold: 1,
      eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary, heartbeat, isRunning, isStale }) => {
        const { messages, partition } = batch;
        for (let i = 0; i < messages.length; i++) {
          if (!isRunning() || isStale()) return;
          const message = messages[i];
          const command = parse(message, partition);
          if (command && decide(command) === 'busy') {
            // Nothing after this offset is resolved: once resumed, the partition is read again from here.
            paused.add(partition);
            consumer.pause([{ topic, partitions: [partition] }]);
            logger.debug({ partition, offset: message.offset }, `kafka worker: every slot busy; partition ${partition} paused`);
            for (const later of messages.slice(i + 1)) {
              const stop = parse(later, partition);
              if (stop?.type === 'stop') decide(stop);
            }
            break;
          }
          resolveOffset(message.offset);
          await commitOffsetsIfNecessary();
          await heartbeat();
        }
      },
    });
  }

  return {
    async start() {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: opts.fromBeginning });
      const joined = new Promise<void>((resolve, reject) => {
        const offJoin = consumer.on(consumer.events.GROUP_JOIN, () => {
          offJoin();
          offCrash();
          resolve();
        });
        const offCrash = consumer.on(consumer.events.CRASH, (e) => {
          offJoin();
          offCrash();
          reject(coerceError(e.payload.error));
        });
      });
      consumer.on(consumer.events.CRASH, (e) => {
        const err = coerceError(e.payload.error);
        logger.error({ err, restart: e.payload.restart }, `kafka worker: command consumer crashed: ${err.message}`);
      });
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        const partitions = e.payload.memberAssignment[topic] ?? [];
        logger.info(
          { partitions },
          `kafka worker: joined group ${opts.groupId}, partitions ${partitions.join(', ') || 'none'} of ${topic}`,
        );
      });
      await run();
      await joined;
    },
    resume() {
      if (stopped || paused.size === 0) return;
      const partitions = [...paused];
      paused.clear();
      try {
        consumer.resume([{ topic, partitions }]);
      } catch (err) {
        const e = coerceError(err);
        logger.warn({ err: e, partitions }, `kafka worker: resuming partitions ${partitions.join(', ')} failed: ${e.message}`);
      }
    },
    async stop() {
      // Runs ending during the stop must not resume a consumer that is leaving.
      stopped = true;
      try {
        await consumer.disconnect();
      } catch (err) {
        const e = coerceError(err);
        logger.error({ err: e }, `kafka worker: disconnecting the command consumer failed: ${e.message}`);
      }
    },
  };
}
