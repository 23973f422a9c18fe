import { coerceError } from '../src/errors';
import { makeLifecycle } from '../src/lifecycle';
import { makeLocalExecutor } from './local-executor';
import { makeScheduler } from './scheduler';
import { makeStuckMonitor } from './stuck-monitor';
import { makeKafkaConsumer, type KafkaConsumerDeps } from './kafka-consumer';
import { makeSparkPoller, type SparkPollerDeps } from './spark-poller';
import type { LocalExecutorDeps } from './local-executor';
import type { SchedulerDeps } from './scheduler';
import type { StuckMonitorDeps } from './stuck-monitor';

export { makeLoop, type Loop, type LoopOptions } from './loop';
export { makeLocalExecutor, type LocalExecutor, type LocalExecutorDeps } from './local-executor';
export { makeScheduler, type SchedulerDeps } from './scheduler';
export { makeStuckMonitor, type StuckMonitorDeps } from './stuck-monitor';
export { makeSparkPoller, type SparkPollerDeps } from './spark-poller';

/** What the workers need, all together: the union of each worker's own deps. */
export type WorkersDeps = Omit<LocalExecutorDeps, 'runEvents'> &
  SchedulerDeps &
  StuckMonitorDeps & {
    runEvents: LocalExecutorDeps['runEvents'];
    /** The Kafka consumer's, when Kafka is configured. */
    kafkaConsumer?: KafkaConsumerDeps;
    /** The Spark poller's, when Spark is configured. */
    sparkPoll?: SparkPollerDeps['sparkPoll'];
    config: SparkPollerDeps['config'];
    /** What the workers observe (the Spark poller's cycles). */
    metrics?: SparkPollerDeps['metrics'];
  };

export interface Workers {
  /** Starts the LOCAL executor, the scheduler and the stuck-run monitor. Idempotent. */
  start(): Promise<void>;
  /**
   * Stops them: the scheduler and monitor finish their pass, the executor hands its runs back to
   * the queue and releases its leases. Every step runs even when one fails; never rejects. Idempotent.
   */
  stop(): Promise<void>;
}

/** The gateway's background workers, for the composition root (src/app.ts). */
export function makeWorkers(deps: WorkersDeps): Workers {
  const { logger } = deps;
  const parts = [
    { name: 'scheduler', part: makeScheduler(deps) },
    { name: 'stuck monitor', part: makeStuckMonitor(deps) },
    { name: 'local executor', part: makeLocalExecutor(deps) },
    ...(deps.kafkaConsumer ? [{ name: 'kafka consumer', part: makeKafkaConsumer(deps.kafkaConsumer) }] : []),
    ...(deps.sparkPoll ? [{ name: 'spark poller', part: makeSparkPoller({ ...deps, sparkPoll: deps.sparkPoll }) }] : []),
  ];
  return makeLifecycle({
    async start() {
      for (const { part } of parts) await part.start();
    },
    async stop() {
      // Scheduler first, so it starts no retry the executor would then have to abort.
      for (const { name, part } of parts) {
        try {
          await part.stop();
        } catch (err) {
          const e = coerceError(err);
          logger.error({ err: e, step: name }, `workers: stopping the ${name} failed: ${e.message}`);
        }
      }
    },
  });
}
