import { BackendRegistry, ENGINE_SOURCES, SPARK_SOURCES, unconfiguredBackend, type Backend } from './backends/backend';
import { LocalQueueService } from './backends/local/local-queue.service';
import { makeLocalBackend } from './backends/local/local.backend';
import type { Config } from './config';
import type { Database } from './db/orm';
import type { Producer } from 'kafkajs';
import { ExecutionBackend, LogLevel } from './domain';
import { makeSparkBackend, type SparkBackendDeps } from './backends/spark/spark.backend';
import { SparkPollService } from './backends/spark/spark-poll.service';
import type { SparkClient } from './backends/spark/spark-client';
import { makeKafkaBackend, type KafkaBackendDeps } from './backends/kafka/kafka.backend';
import { DeadLettersService } from './kafka/dead-letters.service';
import { EventIngestService } from './kafka/event-ingest.service';
import type { EventBus } from './events/bus';
import { JobsService } from './jobs/jobs.service';
import { SchedulesService } from './jobs/schedules.service';
import type { Logger } from './logger';
import type { EventSource, Metrics } from './metrics/metrics';
import { LivenessService } from './runs/liveness.service';
import { RetriesService } from './runs/retries.service';
import { DEFAULT_POLICIES } from './runs/run-apply';
import { RunEventsService } from './runs/run-events.service';
import { RunsService } from './runs/runs.service';

/** The services of the core, built over one database and bus. */
export interface Core {
  backends: BackendRegistry;
  /** Dead letters of the Kafka consumer (kept, listed and replayed whether or not this gateway consumes). */
  deadLetters: DeadLettersService;
  /** Kafka records into run events (when Kafka is configured). */
  ingest?: EventIngestService;
  /** The Spark poller's cycle (when Spark is configured). */
  sparkPoll?: SparkPollService;
  runEvents: RunEventsService;
  jobs: JobsService;
  runs: RunsService;
  localQueue: LocalQueueService;
  schedules: SchedulesService;
  retries: RetriesService;
  liveness: LivenessService;
}

export interface CoreOptions {
  db: Pick<Database, 'sql'>;
  bus: EventBus;
  config: Readonly<Config>;
  logger: Logger;
  /** The execution backends; default LOCAL, with SPARK and KAFKA as unconfigured. */
  backends?: Backend[];
  /** Kafka, when configured: the KAFKA backend produces commands with this producer. */
  kafka?: { producer: Pick<Producer, 'send'> };
  /** The Spark cluster's client, when `SPARK_MASTER_URL` is set (the SPARK backend and its poller). */
  spark?: SparkClient;
  /** This replica (the Spark poller's lease). */
  instanceId?: string;
  /** Where the writer counts events and times its transactions (src/metrics); none: nothing is counted. */
  metrics?: Pick<Metrics, 'runEvents'>;
  /** The clock of every service (tests move it). Default the system clock. */
  now?: () => Date;
  random?: () => number;
}

/**
 * The backends of a gateway: LOCAL; KAFKA when Kafka is configured (else one that cannot start
 * runs); SPARK that cannot start runs (until the Spark backend).
 */
export function defaultBackends(kafka?: Omit<KafkaBackendDeps, 'now'>, spark?: SparkBackendDeps): Backend[] {
  return [
    makeLocalBackend(),
    spark
      ? makeSparkBackend(spark)
      : unconfiguredBackend(
          ExecutionBackend.SPARK,
          'SPARK_MASTER_URL is not set: this gateway has no Spark cluster',
          DEFAULT_POLICIES.SPARK,
          SPARK_SOURCES,
        ),
    kafka
      ? makeKafkaBackend(kafka)
      : unconfiguredBackend(
          ExecutionBackend.KAFKA,
          'KAFKA_BROKERS is not set: this gateway has no Kafka',
          DEFAULT_POLICIES.KAFKA,
          ENGINE_SOURCES,
        ),
  ];
}

/**
 * Builds the core's services and wires them to each other: the one writer of run state first,
 * then everything that goes through it. Used by the composition root (and by tests, the same way).
 */
export function buildCore(opts: CoreOptions): Core {
  const { db, bus, config, logger, now } = opts;
  // The KAFKA backend asks the jobs service for a job's command form, made further down.
  let jobs: JobsService | null = null;
  const kafkaBackend = opts.kafka && {
    producer: opts.kafka.producer,
    commandsTopic: config.kafkaTopics.runCommands,
    commandJob: (jobId: string) => jobs!.commandJob(jobId),
  };
  let runEventsRef: RunEventsService | null = null;
  const sparkBackend: SparkBackendDeps | undefined = opts.spark && {
    client: opts.spark,
    engineJob: (jobId) => jobs!.engineJob(jobId),
    appJar: config.sparkAppJar,
    destinationUrl: config.databaseUrl ?? null,
    maxFailedRowRatio: config.maxFailedRowRatio,
    kafka: config.kafkaBrokers
      ? {
          brokers: config.kafkaBrokers,
          topic: config.kafkaTopics.runEvents,
          heartbeatMs: Math.min(10_000, Math.floor(config.stuckThresholdMs / 3)),
        }
      : undefined,
    // What the compute mapping could not do as asked goes on the run's log, where its owner looks.
    onNotes: (run, notes) =>
      void runEventsRef
        ?.withSource('spark')
        .apply({
          type: 'run.log',
          runId: run.id,
          attempt: run.attempt,
          payload: { lines: notes.map((message) => ({ level: LogLevel.WARN, message, source: 'spark-backend' })) },
        })
        .catch((err) => logger.warn({ err, runId: run.id }, 'compute notes not logged')),
  };
  const backends = new BackendRegistry(opts.backends ?? defaultBackends(kafkaBackend, sparkBackend));
  const runEvents = new RunEventsService({
    sql: db.sql,
    bus,
    logger: logger.child({ component: 'run-events' }),
    retry: { baseDelayMs: config.retryBaseDelayMs, maxDelayMs: config.retryMaxDelayMs },
    defaultMaxAttempts: config.retryMaxAttempts,
    defaultStallTimeoutMs: config.stallThresholdMs,
    stuckThresholdMs: config.stuckThresholdMs,
    policy: (kind) => backends.policy(kind),
    logRetentionMs: config.logRetentionMs,
    metrics: opts.metrics?.runEvents,
    now,
    random: opts.random,
  });
  runEventsRef = runEvents;
  // Each component applies through a handle of its own: the events it applies are counted under its source.
  const from = (source: EventSource) => ({ sql: db.sql, runEvents: runEvents.withSource(source), backends, now });
  jobs = new JobsService({ ...from('api'), config, logger: logger.child({ component: 'jobs' }) });
  const deadLetters = new DeadLettersService({
    sql: db.sql,
    runEvents: runEvents.withSource('kafka'),
    logger: logger.child({ component: 'dead-letters' }),
    maxPageSize: config.limits.maxPageSize,
    now,
  });
  return {
    backends,
    runEvents,
    deadLetters,
    sparkPoll:
      opts.spark &&
      new SparkPollService({
        sql: db.sql,
        runEvents: runEvents.withSource('spark'),
        client: opts.spark,
        logger: logger.child({ component: 'spark-poll' }),
        instanceId: opts.instanceId ?? 'jobwire',
        intervalMs: config.sparkPollIntervalMs,
        maxConcurrentPolls: config.sparkMaxConcurrentPolls,
        stuckThresholdMs: config.stuckThresholdMs,
        now,
      }),
    ingest:
      opts.kafka &&
      new EventIngestService({
        runEvents: runEvents.withSource('kafka'),
        deadLetters,
        logger: logger.child({ component: 'event-ingest' }),
      }),
    jobs,
    runs: new RunsService({ ...from('api'), config, logger: logger.child({ component: 'runs' }) }),
    localQueue: new LocalQueueService({ runEvents: runEvents.withSource('local'), sql: db.sql }),
    schedules: new SchedulesService({ ...from('scheduler'), logger: logger.child({ component: 'schedules' }) }),
    retries: new RetriesService({ ...from('scheduler'), logger: logger.child({ component: 'retries' }) }),
    // The stuck-run monitor and the stall check.
    liveness: new LivenessService({ ...from('monitor'), logger: logger.child({ component: 'liveness' }) }),
  };
}
