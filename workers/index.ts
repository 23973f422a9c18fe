import type { BackendRegistry } from '../src/backends/backend';
import type { Config } from '../src/config';
import { coerceError } from '../src/errors';
import type { EventBus } from '../src/events/bus';
import type { LoadSink } from '../src/ingest';
import type { Logger } from '../src/logger';
import type { RunEventsService } from '../src/runs/run-events.service';
import { makeLocalExecutor } from './local-executor';
import { makeScheduler } from './scheduler';
import { makeStuckMonitor } from './stuck-monitor';

export { makeLoop, type Loop, type LoopOptions } from './loop';
export { makeLocalExecutor, type LocalExecutor, type LocalExecutorDeps } from './local-executor';
export { makeScheduler, type SchedulerDeps } from './scheduler';
export { makeStuckMonitor, type StuckMonitorDeps } from './stuck-monitor';

export interface WorkersDeps {
  runEvents: RunEventsService;
  bus: EventBus;
  backends: BackendRegistry;
  config: Readonly<Config>;
  logger: Logger;
  /** Unique per gateway process; owns the leases of the LOCAL runs it executes. */
  instanceId: string;
  /** A sink on the gateway's database, one per LOCAL run. */
  makeSink: () => LoadSink;
}

export interface Workers {
  /** Starts the LOCAL executor, the scheduler and the stuck-run monitor. Idempotent. */
  start(): Promise<void>;
  /**
   * Stops them: the scheduler and monitor finish their pass, the executor aborts its runs (they are
   * retried) and releases its leases. Every step runs even when one fails; never rejects. Idempotent.
   */
  stop(): Promise<void>;
}

/** The gateway's background workers, for the composition root (src/app.ts). */
export function makeWorkers(deps: WorkersDeps): Workers {
  const { runEvents, bus, backends, config, logger, instanceId, makeSink } = deps;
  const executor = makeLocalExecutor({ runEvents, bus, config, logger, instanceId, makeSink });
  const scheduler = makeScheduler({ runEvents, backends, config, logger, instanceId });
  const monitor = makeStuckMonitor({ runEvents, backends, config, logger, instanceId });
  const parts = [
    { name: 'scheduler', part: scheduler },
    { name: 'stuck monitor', part: monitor },
    { name: 'local executor', part: executor },
  ];
  let startPromise: Promise<void> | null = null;
  let stopPromise: Promise<void> | null = null;

  async function doStop() {
    // Scheduler first, so it starts no retry the executor would then have to abort.
    for (const { name, part } of parts) {
      try {
        await part.stop();
      } catch (err) {
        const e = coerceError(err);
        logger.error({ err: e, step: name }, `workers: stopping the ${name} failed: ${e.message}`);
      }
    }
  }

  return {
    start() {
      if (stopPromise) return stopPromise.then(() => this.start());
      return (startPromise ??= (async () => {
        for (const { part } of parts) await part.start();
      })());
    },
    stop() {
      if (!startPromise) return Promise.resolve();
      return (stopPromise ??= startPromise
        .catch(() => undefined)
        .then(doStop)
        .finally(() => {
          startPromise = null;
          stopPromise = null;
        }));
    },
  };
}

/** Alias of {@link makeWorkers} that also starts them. */
export async function startWorkers(deps: WorkersDeps): Promise<Workers> {
  const workers = makeWorkers(deps);
  await workers.start();
  return workers;
}
