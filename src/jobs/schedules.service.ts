import type { BackendRegistry } from '../backends/backend';
import type { Sql } from '../db/sql';
import type { RunView, ScheduleConfig } from '../domain';
import { coerceError } from '../errors';
import type { Logger } from '../logger';
import type { RunEventsService } from '../runs/run-events.service';
import type { JobForRun } from '../runs/run-store';
import { submitRun } from '../runs/submit-run';
import { nextRunAt } from './cron';

export interface SchedulesDeps {
  sql: Sql;
  runEvents: RunEventsService;
  backends: BackendRegistry;
  logger: Logger;
  now?: () => Date;
}

/**
 * Cron schedules: starts a run for every job whose schedule is due. Each job is locked with
 * `FOR UPDATE SKIP LOCKED` and its due time re-checked under the lock, so several gateways on one
 * database fire each schedule exactly once. Fire times missed while no gateway ran are not
 * replayed one by one: one run, then the next future time. A job that still has an active run
 * skips the fire time.
 */
export class SchedulesService {
  constructor(private readonly deps: SchedulesDeps) {}

  /** Fires up to `limit` due schedules; returns the runs started (already handed to their backends). */
  async fireDue(limit: number, producer?: string): Promise<RunView[]> {
    const now = this.deps.now?.() ?? new Date();
    const due = await this.deps.sql.query<{ id: string }>(
      'select id from jobs where next_run_at <= $1 order by next_run_at limit $2',
      [now, limit],
      'jobwire_due_schedules',
    );
    const started: RunView[] = [];
    for (const { id } of due) {
      try {
        const fired = await this.deps.runEvents.fireSchedule(id, (job, at) => this.decide(job, at));
        if (!fired) continue;
        const log = this.deps.logger.child({
          jobId: id,
          dueAt: fired.dueAt.toISOString(),
          nextRunAt: fired.nextRunAt?.toISOString() ?? null,
        });
        if (!fired.run) {
          log.info(`schedules: job ${id} not started: ${fired.skipped}`);
          continue;
        }
        log.info({ runId: fired.run.id }, `schedules: started run ${fired.run.number} of job ${id}`);
        started.push(await submitRun(this.deps, fired.run, producer));
      } catch (err) {
        const e = coerceError(err);
        this.deps.logger.error({ err: e, jobId: id }, `schedules: firing the schedule of job ${id} failed: ${e.message}`);
      }
    }
    return started;
  }

  /** Where the schedule goes next, and whether this due time fires a run. */
  private decide(job: JobForRun, now: Date): { nextRunAt: Date | null; fire: boolean; reason?: string } {
    const schedule = job.schedule as ScheduleConfig | null;
    const next = this.nextFireTime(job.id, schedule, now);
    const missedNext = job.nextRunAt && this.nextFireTime(job.id, schedule, job.nextRunAt);
    if (missedNext && missedNext.getTime() <= now.getTime()) {
      this.deps.logger.warn(
        { jobId: job.id },
        `schedules: job ${job.id} missed fire times since ${job.nextRunAt!.toISOString()}; firing once, then at the next future time`,
      );
    }
    if (!schedule?.enabled) return { nextRunAt: next, fire: false, reason: 'the job has no enabled schedule' };
    const unavailable = this.deps.backends.unavailableReason(job.backend);
    if (unavailable) return { nextRunAt: next, fire: false, reason: unavailable };
    return { nextRunAt: next, fire: true };
  }

  // A schedule that cannot be computed (it was valid when stored) stops firing instead of failing every pass.
  private nextFireTime(jobId: string, schedule: ScheduleConfig | null, after: Date): Date | null {
    if (!schedule) return null;
    try {
      return nextRunAt(schedule, after);
    } catch (err) {
      const e = coerceError(err);
      this.deps.logger.error({ err: e, jobId }, `schedules: the schedule of job ${jobId} is invalid (${e.message}); it stops firing`);
      return null;
    }
  }
}
