import type { Config } from '../src/config';
import { ErrorKind, ExecutionBackend, RunStatus, type RunView } from '../src/domain';
import { JobEntity } from '../src/db/entities';
import { coerceError } from '../src/errors';
import type { LiveService, LiveSubscription } from '../src/live/live.service';
import type { LoadSink } from '../src/backends/local/ingest';
import type { Logger } from '../src/logger';
import { claimQueuedLocalRuns, releaseLeases } from '../src/runs/run-leases';
import type { RunEventsService } from '../src/runs/run-events.service';
import { makeLoop } from './loop';
import { RunExecution, type JobSpec } from './local-executor/run-execution';

export interface LocalExecutorDeps {
  runEvents: RunEventsService;
  live: Pick<LiveService, 'backendStatus'>;
  config: Pick<Config, 'localConcurrency' | 'localLeaseMs' | 'maxFailedRowRatio' | 'localSourceRoots'>;
  logger: Logger;
  /** This gateway process; becomes the lease owner of the runs it claims. */
  instanceId: string;
  /** A sink on the gateway's database for each run's rows. */
  makeSink: () => LoadSink;
}

export interface LocalExecutor {
  /** Subscribes to run status changes and starts claiming. Idempotent. */
  start(): Promise<void>;
  /**
   * Stops claiming, aborts the runs executing here (they end FAILED, TRANSIENT "gateway shutting
   * down", so they are retried here or elsewhere), releases leases and waits for all of it.
   * Idempotent; never rejects.
   */
  stop(): Promise<void>;
  /** Looks for queued runs now instead of at the next poll. */
  wake(): void;
  /** Ids of the runs executing in this process now. */
  activeRunIds(): string[];
}

/** Safety-net poll for queued runs; bus messages normally wake the executor at once. */
export const CLAIM_POLL_MS = 1000;

/**
 * The LOCAL executor: runs up to `localConcurrency` LOCAL runs at once in this process. A run is
 * claimed (lease + RUNNING) in one transaction with `FOR UPDATE SKIP LOCKED`, so with several
 * gateways on one database each run executes once. While it executes, its lease is renewed every
 * `localLeaseMs / 3`; if this process dies the lease expires and the stuck monitor retries the run.
 */
export function makeLocalExecutor(deps: LocalExecutorDeps): LocalExecutor {
  const { runEvents, live, config, instanceId } = deps;
  const logger = deps.logger.child({ component: 'local-executor' });
  const producer = `local-executor@${instanceId}`;
  const executions = new Map<string, RunExecution>();
  let subscription: LiveSubscription<RunView> | null = null;
  let accepting = false;
  let startPromise: Promise<void> | null = null;
  let stopPromise: Promise<void> | null = null;

  const loop = makeLoop({ name: 'local-executor', intervalMs: CLAIM_POLL_MS, logger, tick: claim });

  async function claim(): Promise<void> {
    const free = config.localConcurrency - executions.size;
    if (!accepting || free <= 0) return;
    const claimed = await runEvents.transact(async (tx) => {
      const ids = await claimQueuedLocalRuns(tx.em, { instanceId, leaseMs: config.localLeaseMs, limit: free });
      const out: { run: RunView; job: JobSpec }[] = [];
      for (const runId of ids) {
        const started = await tx.apply({ runId, type: 'run.status', producer, payload: { status: RunStatus.RUNNING } });
        if (started.outcome !== 'applied') continue;
        const job = await tx.em.findOne(JobEntity, { id: started.run.jobId });
        if (!job) {
          const error = { message: 'the job of this run no longer exists', kind: ErrorKind.PERMANENT, details: null };
          await tx.apply({ runId, type: 'run.status', producer, payload: { status: RunStatus.FAILED, error } });
          continue;
        }
        out.push({
          run: started.run,
          job: structuredClone({ source: job.source, processing: job.processing, destination: job.destination }),
        });
      }
      return out;
    });
    for (const { run, job } of claimed) launch(run, job);
  }

  function launch(run: RunView, job: JobSpec) {
    logger.info({ runId: run.id, jobId: run.jobId, attempt: run.attempt }, `local executor: executing run ${run.id}`);
    const execution = new RunExecution(run, job, { runEvents, config, logger, instanceId, producer, makeSink: deps.makeSink });
    executions.set(run.id, execution);
    void execution.done.finally(() => {
      executions.delete(run.id);
      // A slot is free: take the next queued run now.
      loop.wake();
    });
  }

  async function watchStatuses(sub: LiveSubscription<RunView>) {
    try {
      for await (const view of sub) {
        if (view.backend !== ExecutionBackend.LOCAL) continue;
        if (view.status === RunStatus.QUEUED) loop.wake();
        executions.get(view.id)?.observe(view);
      }
    } catch (err) {
      const e = coerceError(err);
      logger.warn({ err: e }, `local executor: status subscription ended: ${e.message}; polling only`);
    }
  }

  async function doStart() {
    try {
      // Only LOCAL runs' status changes: new work to claim, and stop requests for runs executing here.
      subscription = await live.backendStatus(ExecutionBackend.LOCAL);
      void watchStatuses(subscription);
    } catch (err) {
      const e = coerceError(err);
      logger.warn({ err: e }, `local executor: cannot subscribe to run status changes (${e.message}); polling every ${CLAIM_POLL_MS} ms`);
    }
    accepting = true;
    await loop.start();
    logger.info({ instanceId, concurrency: config.localConcurrency }, 'local executor started');
  }

  async function doStop() {
    accepting = false;
    const step = async (name: string, fn: () => Promise<unknown> | unknown) => {
      try {
        await fn();
      } catch (err) {
        const e = coerceError(err);
        logger.error({ err: e, step: name }, `local executor: stop step ${name} failed: ${e.message}`);
      }
    };
    await step('claim loop', () => loop.stop());
    await step('status subscription', () => subscription?.close());
    subscription = null;
    const running = [...executions.values()];
    for (const execution of running) execution.shutdown();
    await step('in-flight runs', () => Promise.all(running.map((x) => x.done)));
    await step('leases', () => runEvents.transact((tx) => releaseLeases(tx.em, instanceId)));
    logger.info({ aborted: running.length }, 'local executor stopped');
  }

  return {
    start() {
      if (stopPromise) return stopPromise.then(() => this.start());
      return (startPromise ??= doStart());
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
    wake: () => loop.wake(),
    activeRunIds: () => [...executions.keys()],
  };
}
