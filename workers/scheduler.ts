import type { BackendRegistry } from '../src/backends/backend';
import type { Config } from '../src/config';
import { JobEntity } from '../src/db/entities';
import { ExecutionBackend, RunTrigger, type RunView } from '../src/domain';
import { coerceError } from '../src/errors';
import type { Logger } from '../src/logger';
import { nextRunAt } from '../src/jobs/cron';
import { dueRetryIds, dueScheduleIds, hasActiveRun, lockDueJob, lockDueRetry } from '../src/runs/run-leases';
import type { RunEventsService } from '../src/runs/run-events.service';
import { submitRun } from '../src/runs/submit-run';
import { makeLoop, type Loop } from './loop';

export interface SchedulerDeps {
  runEvents: RunEventsService;
  backends: BackendRegistry;
  config: Pick<Config, 'schedulerIntervalMs'>;
  logger: Logger;
  instanceId: string;
}

/** Most due schedules, and most due retries, handled per pass; the rest wait for the next one. */
export const SCHEDULER_BATCH = 50;

/**
 * Every `schedulerIntervalMs`: starts a run for each job whose cron schedule is due, and the next
 * attempt of each FAILED run whose automatic retry is due. Each job or run is handled in its own
 * transaction under `FOR UPDATE SKIP LOCKED` with the due condition re-checked, so several gateways
 * on one database fire each schedule and each retry exactly once, and one bad row cannot hold up
 * the others. Runs of other backends than LOCAL are handed to their backend after the commit.
 */
export function makeScheduler(deps: SchedulerDeps): Loop & { tick(): Promise<void> } {
  const { runEvents, backends } = deps;
  const logger = deps.logger.child({ component: 'scheduler' });
  const producer = `scheduler@${deps.instanceId}`;

  async function tick() {
    await fireSchedules();
    await startRetries();
  }

  async function fireSchedules() {
    const ids = await runEvents.transact((tx) => dueScheduleIds(tx.em, SCHEDULER_BATCH));
    for (const jobId of ids) {
      try {
        const run = await runEvents.transact(async (tx) => {
          const now = new Date();
          const dueAt = await lockDueJob(tx.em, jobId, now);
          if (!dueAt) return null;
          const job = await tx.em.findOneOrFail(JobEntity, { id: jobId });
          const next = nextFireTime(job, now);
          const log = logger.child({ jobId, dueAt: dueAt.toISOString(), nextRunAt: next?.toISOString() ?? null });
          // Fire times missed while no gateway ran are not replayed one by one: one run, then the future.
          const missedNext = nextFireTime(job, dueAt);
          if (missedNext && missedNext.getTime() <= now.getTime()) {
            log.warn(`scheduler: job ${jobId} missed fire times since ${dueAt.toISOString()}; firing once, then at the next future time`);
          }
          let created: RunView | null = null;
          const unavailable = backends.unavailableReason(job.backend);
          if (!job.schedule?.enabled) {
            log.info(`scheduler: job ${jobId} has no enabled schedule; not firing`);
          } else if (unavailable) {
            log.warn(`scheduler: job ${jobId} not started: ${unavailable}`);
          } else if (await hasActiveRun(tx.em, jobId)) {
            log.info(`scheduler: job ${jobId} still has an active run; this fire time is skipped`);
          } else {
            created = (await tx.createRun(jobId, RunTrigger.SCHEDULE)).run;
            log.info({ runId: created.id }, `scheduler: started run ${created.number} of job ${jobId}`);
          }
          job.nextRunAt = next;
          await tx.em.flush();
          return created;
        });
        if (run) await submit(run);
      } catch (err) {
        const e = coerceError(err);
        logger.error({ err: e, jobId }, `scheduler: firing the schedule of job ${jobId} failed: ${e.message}`);
      }
    }
  }

  // A schedule that cannot be computed (it was valid when stored) stops firing instead of failing every pass.
  function nextFireTime(job: JobEntity, after: Date): Date | null {
    if (!job.schedule) return null;
    try {
      return nextRunAt(job.schedule, after);
    } catch (err) {
      const e = coerceError(err);
      logger.error({ err: e, jobId: job.id }, `scheduler: the schedule of job ${job.id} is invalid (${e.message}); it stops firing`);
      return null;
    }
  }

  async function startRetries() {
    const ids = await runEvents.transact((tx) => dueRetryIds(tx.em, SCHEDULER_BATCH));
    for (const runId of ids) {
      try {
        const run = await runEvents.transact(async (tx) => {
          if (!(await lockDueRetry(tx.em, runId))) return null;
          const r = await tx.apply({ runId, type: 'run.retry', producer, payload: { manual: false } });
          return r.outcome === 'applied' ? r.run : null;
        });
        if (!run) continue;
        logger.info({ runId, attempt: run.attempt }, `scheduler: started attempt ${run.attempt} of run ${runId}`);
        await submit(run);
      } catch (err) {
        const e = coerceError(err);
        logger.error({ err: e, runId }, `scheduler: starting the retry of run ${runId} failed: ${e.message}`);
      }
    }
  }

  /** LOCAL needs nothing (the executor claims QUEUED runs); other backends are handed the run. */
  async function submit(run: RunView) {
    if (run.backend !== ExecutionBackend.LOCAL) await submitRun({ runEvents, backends, logger }, run, producer);
  }

  const loop = makeLoop({ name: 'scheduler', intervalMs: deps.config.schedulerIntervalMs, logger, tick });
  return Object.assign(loop, { tick });
}
