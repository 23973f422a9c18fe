import type { Config } from '../src/config';
import { ExecutionBackend, RunStatus, type RunView } from '../src/domain';
import { coerceError } from '../src/errors';
import type { LoadSink, PgSinkOptions } from '../src/backends/local/ingest';
import type { ClaimedRun, LocalQueueService } from '../src/backends/local/local-queue.service';
import { makeLifecycle } from '../src/lifecycle';
import type { LiveService, LiveSubscription } from '../src/live/live.service';
import type { Logger } from '../src/logger';
import type { RunEventsService } from '../src/runs/run-events.service';
import { makeReadableCheck } from '../src/backends/local/source-readable';
import { sourceAccessFrom } from '../src/jobs/source-access';
import { makeLoop } from './loop';
import { RunExecution } from './local-executor/run-execution';

export interface LocalExecutorDeps {
  localQueue: Pick<LocalQueueService, 'claim' | 'renew' | 'handBack' | 'release' | 'commitFence' | 'announce'>;
  runEvents: Pick<RunEventsService, 'applyBatch'>;
  live: Pick<LiveService, 'backendStatus'>;
  config: Pick<Config, 'localConcurrency' | 'localLeaseMs' | 'maxFailedRowRatio' | 'localSourceRoots' | 'sourceAllowedNetworks'>;
  logger: Logger;
  /** This gateway process; becomes the lease owner of the runs it claims. */
  instanceId: string;
  /** A sink on the gateway's database for each run's rows; `beforeCommit` is the run's lease fence. */
  makeSink: (opts?: PgSinkOptions) => LoadSink;
}

export interface LocalExecutor {
  /** Subscribes to LOCAL runs' status changes and starts claiming. Idempotent. */
  start(): Promise<void>;
  /**
   * Stops claiming, aborts the runs executing here and hands them back to the queue (same attempt:
   * a graceful stop spends none), releases leases and waits for all of it. Idempotent; never rejects.
   */
  stop(): Promise<void>;
  /** Looks for queued runs now instead of at the next poll. */
  wake(): void;
  /** Ids of the runs executing in this process now. */
  activeRunIds(): string[];
}

/** Safety-net poll for queued runs; bus messages normally wake the executor at once. */
export const CLAIM_POLL_MS = 1000;
/** Leases are renewed (and the runs' state checked) this often, at most; see `localLeaseMs`. */
export const LEASE_CHECK_MS = 1000;

/**
 * The LOCAL executor: runs up to `localConcurrency` LOCAL runs at once in this process. A run is
 * claimed (lease + RUNNING) with `FOR UPDATE SKIP LOCKED`, so with several gateways on one database
 * each run executes once. The leases of all runs executing here are renewed together, in one batch,
 * every `min(1 s, localLeaseMs / 3)`; if this process dies they expire and the stuck monitor
 * retries the runs. Stop requests arrive on the bus at once (and with the next renewal when the
 * bus is down). A load commits only in one transaction with a check that this gateway still holds
 * the run's lease (the fence: LocalQueueService.commitFence), and only runs whose sources this
 * gateway may read (LOCAL_SOURCE_ROOTS, SOURCE_ALLOWED_NETWORKS) are claimed.
 */
export function makeLocalExecutor(deps: LocalExecutorDeps): LocalExecutor {
  const { localQueue, live, config, instanceId } = deps;
  const logger = deps.logger.child({ component: 'local-executor' });
  const producer = `local-executor@${instanceId}`;
  const executions = new Map<string, RunExecution>();
  const access = sourceAccessFrom(config);
  // Replicas may differ in what their sources may reach: claim only what this one may read.
  const readable = makeReadableCheck(config);
  let subscription: LiveSubscription<RunView> | null = null;
  let accepting = false;

  // Back-offs stay short while the database is away: claims resume soon after it is back, and the
  // leases of the runs executing here are renewed before they run out (a stuck monitor would take them).
  const claimLoop = makeLoop({ name: 'local-executor', intervalMs: CLAIM_POLL_MS, logger, tick: claim, maxBackoffMs: 10_000 });
  const leaseIntervalMs = Math.max(10, Math.min(LEASE_CHECK_MS, Math.floor(config.localLeaseMs / 3)));
  const leaseLoop = makeLoop({
    name: 'local-executor leases',
    intervalMs: leaseIntervalMs,
    logger,
    tick: renew,
    maxBackoffMs: Math.max(leaseIntervalMs, Math.min(5000, Math.floor(config.localLeaseMs / 3))),
  });

  async function claim(): Promise<void> {
    if (!accepting) return;
    const free = config.localConcurrency - executions.size;
    if (free <= 0) return localQueue.announce(readable, instanceId, config.localLeaseMs);
    const claimed = await localQueue.claim({ owner: instanceId, leaseMs: config.localLeaseMs, limit: free, producer, readable });
    for (const c of claimed) launch(c);
  }

  async function renew(): Promise<void> {
    const ids = [...executions.keys()];
    if (ids.length === 0) return;
    const seen = await localQueue.renew(instanceId, ids, config.localLeaseMs);
    for (const id of ids) {
      const execution = executions.get(id);
      const check = seen.get(id);
      if (!execution) continue;
      if (!check) execution.leaseLost();
      else {
        execution.observe({ id, attempt: check.attempt, status: check.status });
        if (!check.owned) execution.leaseLost();
      }
    }
  }

  function launch({ run, job }: ClaimedRun) {
    logger.info({ runId: run.id, jobId: run.jobId, attempt: run.attempt }, `local executor: executing run ${run.id}`);
    const execution = new RunExecution(run, job, { ...deps, access, logger, producer });
    executions.set(run.id, execution);
    void execution.done.finally(() => {
      executions.delete(run.id);
      // A slot is free: take the next queued run now.
      claimLoop.wake();
    });
  }

  async function watchStatuses(sub: LiveSubscription<RunView>) {
    try {
      for await (const view of sub) {
        if (view.backend !== ExecutionBackend.LOCAL) continue;
        if (view.status === RunStatus.QUEUED) claimLoop.wake();
        executions.get(view.id)?.observe(view);
      }
    } catch (err) {
      const e = coerceError(err);
      logger.warn({ err: e }, `local executor: status subscription ended: ${e.message}; polling only`);
    }
  }

  const lifecycle = makeLifecycle({
    async start() {
      try {
        // Only LOCAL runs' status changes: new work to claim, and stop requests for runs executing here.
        subscription = await live.backendStatus(ExecutionBackend.LOCAL);
        void watchStatuses(subscription);
      } catch (err) {
        const e = coerceError(err);
        logger.warn({ err: e }, `local executor: cannot subscribe to run status changes (${e.message}); polling every ${CLAIM_POLL_MS} ms`);
      }
      accepting = true;
      await claimLoop.start();
      await leaseLoop.start();
      logger.info({ instanceId, concurrency: config.localConcurrency }, 'local executor started');
    },
    async stop() {
      accepting = false;
      const step = async (name: string, fn: () => Promise<unknown> | unknown) => {
        try {
          await fn();
        } catch (err) {
          const e = coerceError(err);
          logger.error({ err: e, step: name }, `local executor: stop step ${name} failed: ${e.message}`);
        }
      };
      await step('claim loop', () => claimLoop.stop());
      await step('status subscription', () => subscription?.close());
      subscription = null;
      const running = [...executions.values()];
      for (const execution of running) execution.shutdown();
      // Leases stay renewed until every run is handed back or finished.
      await step('in-flight runs', () => Promise.all(running.map((x) => x.done)));
      await step('lease loop', () => leaseLoop.stop());
      await step('leases', () => localQueue.release(instanceId));
      logger.info({ handedBack: running.length }, 'local executor stopped');
    },
  });

  return {
    start: () => lifecycle.start(),
    stop: () => lifecycle.stop(),
    wake: () => claimLoop.wake(),
    activeRunIds: () => [...executions.keys()],
  };
}
