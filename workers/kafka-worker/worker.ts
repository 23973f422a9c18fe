import { Kafka, logLevel as KafkaLogLevel, Partitioners, type LogEntry, type Producer } from 'kafkajs';
import { Pool } from 'pg';
import { makePgSink } from '../../src/backends/local/ingest';
import { coerceError, withContext } from '../../src/errors';
import type { RunCommand } from '../../src/events/run-event.schema';
import { makeLifecycle } from '../../src/lifecycle';
import { makeLogger, type Logger } from '../../src/logger';
import { makeCommandConsumer, type CommandConsumer, type CommandOutcome } from './command-consumer';
import type { WorkerConfig } from './config';
import { KafkaRunExecution, type StartCommand } from './run-execution';
import type { TopicMessages } from './run-reporter';
import { loadWorkerSecrets } from './secrets';

/** A running worker, as {@link startWorker} returns it. */
export interface KafkaWorker {
  /**
   * Graceful stop: stops taking commands (leaves the group, commits what was taken), aborts the
   * runs executing here and reports them FAILED TRANSIENT "worker stopping" (so jobwire retries
   * them), waits for those reports to be produced, disconnects the producer and closes the
   * database pool. Every step runs even when one fails; idempotent; never rejects.
   */
  stop(): Promise<void>;
  /** Ids of the runs executing here now. */
  activeRunIds(): string[];
}

export interface StartWorkerOptions {
  /** The worker's log. Default: JSON lines on stdout at `config.logLevel`. */
  logger?: Logger;
}

/** How many ended runs a worker remembers, to ignore their redelivered starts. */
const REMEMBERED_RUNS = 1000;

/**
 * kafkajs' own log lines, into the worker's log. Its INFO is chatty (joins, pauses): debug here.
 * A rebalance makes every request of the group answer "rebalancing", which kafkajs logs as errors
 * of each connection besides the one warning of its runner: those are debug too.
 */
function kafkaLogCreator(logger: Logger) {
  const log = logger.child({ lib: 'kafkajs' });
  return () =>
    ({ namespace, level, log: entry }: LogEntry) => {
      const { message, timestamp: _t, logger: _l, ...extra } = entry;
      const fields = { namespace, ...extra };
      const rebalancing = namespace === 'Connection' && /rebalanc/i.test(String(extra.error ?? ''));
      if (level === KafkaLogLevel.ERROR && !rebalancing) log.error(fields, message);
      else if (level === KafkaLogLevel.WARN) log.warn(fields, message);
      else log.debug(fields, message);
    };
}

/**
 * Starts a jobwire Kafka worker (docs/events.md, "Commands"): joins `config.groupId` on the
 * commands topic and executes up to `config.concurrency` `start` commands at once with the LOCAL
 * ingestion engine, loading into `config.databaseUrl` and reporting only through Kafka events.
 * A `stop` for a run executing here aborts it (CANCELLED); a `stop` for another run is ignored
 * (another worker may have it); a `start` of a run and attempt executing here, or among the last
 * 1000 it executed, is a redelivery and ignored; a newer attempt of a run executing here replaces
 * the older one.
 *
 * Resolves once the producer is connected and the consumer has joined the group. Rejects (after
 * closing what it opened) when the secrets file is invalid, the destination database does not
 * answer, or Kafka cannot be reached.
 */
export async function startWorker(config: Readonly<WorkerConfig>, opts: StartWorkerOptions = {}): Promise<KafkaWorker> {
  const logger = (opts.logger ?? makeLogger(config.logLevel)).child({ component: 'kafka-worker', workerId: config.workerId });
  const { secrets, warning } = loadWorkerSecrets(config.secretsFile);
  if (warning) logger.warn(warning);

  const pool = new Pool({ connectionString: config.databaseUrl, max: config.concurrency + 1 });
  // An idle client losing its connection must not crash the worker; the next run gets a new one.
  pool.on('error', (err) => logger.warn({ err }, `kafka worker: destination database connection lost: ${err.message}`));
  const kafka = new Kafka({
    clientId: 'jobwire-worker',
    brokers: config.kafkaBrokers,
    logLevel: config.logLevel === 'debug' || config.logLevel === 'trace' ? KafkaLogLevel.INFO : KafkaLogLevel.WARN,
    logCreator: kafkaLogCreator(logger),
  });
  const producer: Producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    // One request in flight: records keep the order they were sent in (idempotence needs at most 5).
    maxInFlightRequests: 1,
  });
  const send = async (topicMessages: TopicMessages) => void (await producer.sendBatch({ topicMessages, acks: -1 }));
  const topics = { runEvents: config.topics.runEvents, runLogs: config.topics.runLogs };

  const executions = new Map<string, KafkaRunExecution>();
  /** Every execution not yet done (superseded ones included), for a graceful stop to wait on. */
  const unfinished = new Set<KafkaRunExecution>();
  /** The last runs (`runId#attempt`) executed here, oldest first: a start redelivered after its run ended is not run again. */
  const finished = new Set<string>();
  let consumer: CommandConsumer | null = null;

  function launch(command: StartCommand) {
    const execution = new KafkaRunExecution(command, {
      config,
      topics,
      send,
      makeSink: () => makePgSink(pool),
      secrets,
      logger,
    });
    logger.info({ runId: command.runId, jobId: command.jobId, attempt: command.attempt }, `kafka worker: executing run ${command.runId}`);
    executions.set(command.runId, execution);
    unfinished.add(execution);
    void execution.done.finally(() => {
      unfinished.delete(execution);
      finished.add(`${command.runId}#${command.attempt}`);
      if (finished.size > REMEMBERED_RUNS) finished.delete(finished.values().next().value!);
      if (executions.get(command.runId) === execution) executions.delete(command.runId);
      consumer?.resume();
    });
  }

  function onCommand(command: RunCommand): CommandOutcome {
    const current = executions.get(command.runId);
    const ids = { runId: command.runId, attempt: command.attempt, commandId: command.commandId };
    if (command.type === 'stop') {
      // A stop naming a newer attempt than ours says ours is over as well.
      if (current && command.attempt >= current.attempt) current.stop();
      else logger.debug(ids, `kafka worker: stop of run ${command.runId} (attempt ${command.attempt}) not executing here; ignored`);
      return 'taken';
    }
    const key = `${command.runId}#${command.attempt}`;
    if (finished.has(key)) {
      logger.debug(ids, `kafka worker: start of run ${command.runId} attempt ${command.attempt} already executed here; ignored`);
      return 'taken';
    }
    if (current && command.attempt <= current.attempt) {
      logger.debug(
        ids,
        `kafka worker: start of run ${command.runId} attempt ${command.attempt} already executing (attempt ${current.attempt}); ignored`,
      );
      return 'taken';
    }
    if (!current && executions.size >= config.concurrency) return 'busy';
    if (current) {
      logger.warn(ids, `kafka worker: run ${command.runId} attempt ${command.attempt} replaces attempt ${current.attempt} executing here`);
      current.supersede();
    }
    launch(command);
    return 'taken';
  }

  const step = async (name: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      const e = coerceError(err);
      logger.error({ err: e, step: name }, `kafka worker: stop step ${name} failed: ${e.message}`);
    }
  };

  const lifecycle = makeLifecycle({
    async start() {
      try {
        await pool.query('select 1');
      } catch (err) {
        throw withContext(err, 'the destination database (WORKER_DATABASE_URL) does not answer');
      }
      await producer.connect();
      consumer = makeCommandConsumer({
        kafka,
        groupId: config.groupId,
        topic: config.topics.runCommands,
        fromBeginning: config.fromBeginning,
        sessionTimeoutMs: config.sessionTimeoutMs,
        logger,
        onCommand,
      });
      await consumer.start();
      logger.info(
        { groupId: config.groupId, topics: config.topics, concurrency: config.concurrency, secretsForJobs: secrets.jobs },
        `kafka worker ${config.workerId} ready`,
      );
    },
    async stop() {
      await step('command consumer', async () => consumer?.stop());
      const running = [...unfinished];
      for (const execution of running) execution.shutdown();
      await step('in-flight runs', () => Promise.all(running.map((x) => x.done)));
      await step('producer', () => producer.disconnect());
      await step('database pool', () => pool.end());
      logger.info({ stoppedRuns: running.length }, `kafka worker ${config.workerId} stopped`);
    },
  });

  try {
    await lifecycle.start();
  } catch (err) {
    await lifecycle.stop();
    throw err;
  }
  return { stop: () => lifecycle.stop(), activeRunIds: () => [...executions.keys()] };
}
