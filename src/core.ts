import { BackendRegistry, ENGINE_SOURCES, SPARK_SOURCES, unconfiguredBackend, type Backend } from './backends/backend';
import { LocalQueueService } from './backends/local/local-queue.service';
import { makeLocalBackend } from './backends/local/local.backend';
import type { Config } from './config';
import type { Database } from './db/orm';
import { ExecutionBackend } from './domain';
import type { EventBus } from './events/bus';
import { JobsService } from './jobs/jobs.service';
import { SchedulesService } from './jobs/schedules.service';
import type { Logger } from './logger';
import { LivenessService } from './runs/liveness.service';
import { RetriesService } from './runs/retries.service';
import { DEFAULT_POLICIES } from './runs/run-apply';
import { RunEventsService } from './runs/run-events.service';
import { RunsService } from './runs/runs.service';

/** The services of the core, built over one database and bus. */
export interface Core {
  backends: BackendRegistry;
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
  /** The clock of every service (tests move it). Default the system clock. */
  now?: () => Date;
  random?: () => number;
}

/** The backends of a gateway without a Spark cluster or Kafka: LOCAL, and SPARK and KAFKA that cannot start runs. */
export function defaultBackends(): Backend[] {
  return [
    makeLocalBackend(),
    unconfiguredBackend(
      ExecutionBackend.SPARK,
      'SPARK_MASTER_URL is not set: this gateway has no Spark cluster',
      DEFAULT_POLICIES.SPARK,
      SPARK_SOURCES,
    ),
    unconfiguredBackend(
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
  const backends = new BackendRegistry(opts.backends ?? defaultBackends());
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
    now,
    random: opts.random,
  });
  const base = { sql: db.sql, runEvents, backends, now };
  return {
    backends,
    runEvents,
    jobs: new JobsService({ ...base, config, logger: logger.child({ component: 'jobs' }) }),
    runs: new RunsService({ ...base, config, logger: logger.child({ component: 'runs' }) }),
    localQueue: new LocalQueueService({ runEvents, sql: db.sql }),
    schedules: new SchedulesService({ ...base, logger: logger.child({ component: 'schedules' }) }),
    retries: new RetriesService({ ...base, logger: logger.child({ component: 'retries' }) }),
    liveness: new LivenessService({ ...base, logger: logger.child({ component: 'liveness' }) }),
  };
}
