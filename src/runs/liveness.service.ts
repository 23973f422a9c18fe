import type { BackendRegistry, Reconciliation } from '../backends/backend';
import type { Sql } from '../db/sql';
import { RunStatus, type RunView } from '../domain';
import { coerceError, withTimeout } from '../errors';
import type { Logger } from '../logger';
import type { CoreEvent } from './core-events';
import { findDueStalls, findStuckRuns } from './run-queries';
import type { RunEventsService } from './run-events.service';

export interface LivenessDeps {
  sql: Sql;
  runEvents: RunEventsService;
  backends: BackendRegistry;
  logger: Logger;
  now?: () => Date;
}

/** Longest wait for a backend's answer about one run; without an answer the run is asked about again next pass. */
export const RECONCILE_TIMEOUT_MS = 10_000;
/** Backends asked at once. */
const RECONCILE_CONCURRENCY = 5;

/** What one pass over stuck runs did. */
export interface StuckPass {
  found: number;
  /** Failed TRANSIENT (so they retry), or CANCELLED when they were being stopped. */
  lost: number;
  /** Moved to the status their backend reported. */
  finished: number;
  /** Alive after all: their deadline moved on. */
  alive: number;
  /** Not answered (the backend is down or slow): asked again next pass. */
  unanswered: number;
}

/**
 * The safety nets of running work:
 * - **stuck runs** — past their liveness deadline (a LOCAL run's lease expired with its gateway; a
 *   KAFKA or SPARK run silent longer than the stuck threshold): each backend is asked about its runs
 *   (outside any lock, with a timeout), and what it says is applied, guarded so that a run heard
 *   from in between is left alone;
 * - **stalled runs** — RUNNING, but no counter moved for their stall timeout: flagged
 *   (`stalledSince`), then the job's `onStall` (nothing more, STOP, or RETRY).
 * Both find their runs through small partial indexes, so their cost does not grow with idle runs,
 * and act in one batch.
 */
export class LivenessService {
  constructor(private readonly deps: LivenessDeps) {}

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /** Handles up to `limit` stuck runs, longest overdue first. */
  async reconcileStuck(limit: number, producer?: string): Promise<StuckPass> {
    const seen = this.now();
    const stuck = await findStuckRuns(this.deps.sql, seen, limit);
    const pass: StuckPass = { found: stuck.length, lost: 0, finished: 0, alive: 0, unanswered: 0 };
    if (stuck.length === 0) return pass;
    const events: CoreEvent[] = [];
    const queue = [...stuck];
    await Promise.all(
      Array.from({ length: Math.min(RECONCILE_CONCURRENCY, queue.length) }, async () => {
        for (let run = queue.shift(); run; run = queue.shift()) {
          const e = await this.eventFor(run, seen, producer);
          if (e) events.push(e);
          else pass.unanswered++;
        }
      }),
    );
    const results = await this.deps.runEvents.applyBatch(events);
    results.forEach((r, i) => {
      const e = events[i];
      if (r.outcome !== 'applied') return;
      if (e.type === 'run.alive') pass.alive++;
      else if (e.type === 'run.lost') pass.lost++;
      else pass.finished++;
      if (e.type !== 'run.alive') {
        this.deps.logger.warn(
          { runId: e.runId, attempt: e.attempt, status: r.run?.status, error: r.run?.error },
          `stuck runs: run ${e.runId} ${r.run?.status}: ${r.run?.error?.message ?? ''}`,
        );
      }
    });
    return pass;
  }

  /** What to apply to a stuck run, from its backend's answer; null when it did not answer. */
  private async eventFor(run: RunView, seen: Date, producer?: string): Promise<CoreEvent | null> {
    const log = this.deps.logger.child({ runId: run.id, jobId: run.jobId, attempt: run.attempt, backend: run.backend });
    const backend = this.deps.backends.get(run.backend);
    const base = { runId: run.id, attempt: run.attempt, producer };
    const seenAliveUntil = seen.toISOString();
    if (!backend) {
      log.warn(`stuck runs: run ${run.id} looks stuck but the ${run.backend} backend is not part of this gateway`);
      return null;
    }
    let rec: Reconciliation;
    try {
      rec = await withTimeout(backend.reconcile(run), RECONCILE_TIMEOUT_MS, `the ${run.backend} backend`);
    } catch (err) {
      const e = coerceError(err);
      log.warn({ err: e }, `stuck runs: cannot reconcile run ${run.id} (${e.message}); asking again next pass`);
      return null;
    }
    if (rec.state === 'alive') return { ...base, type: 'run.alive', payload: { seenAliveUntil } };
    if (rec.state === 'finished') {
      const message = rec.message ?? `the ${run.backend} backend reports the run ${rec.status}`;
      const payload =
        rec.status === RunStatus.FAILED
          ? { status: RunStatus.FAILED, message, error: { message, kind: 'PERMANENT' as never, details: null } }
          : { status: rec.status, message };
      return { ...base, type: 'run.status', payload };
    }
    const leased = backend.policy.liveness === 'lease';
    const silent = Math.round((seen.getTime() - Date.parse(run.updatedAt)) / 1000);
    const message = leased ? 'executor lease expired' : `no update for ${silent} s; the ${run.backend} backend lost it`;
    return { ...base, type: 'run.lost', payload: { message, details: rec.message, seenAliveUntil } };
  }

  /**
   * Flags up to `limit` runs that just stalled and applies their job's `onStall`; runs moved to
   * CANCELLING by a STOP are handed to their backend to stop. Returns the runs flagged.
   */
  async flagStalls(limit: number, producer?: string): Promise<RunView[]> {
    const ids = await findDueStalls(this.deps.sql, this.now(), limit);
    if (ids.length === 0) return [];
    const results = await this.deps.runEvents.applyBatch(ids.map((runId) => ({ runId, type: 'run.stall', producer, payload: {} })));
    const flagged: RunView[] = [];
    for (const r of results) {
      if (r.outcome !== 'applied') continue;
      const run = r.run;
      flagged.push(run);
      this.deps.logger.warn(
        { runId: run.id, jobId: run.jobId, stalledSince: run.stalledSince, status: run.status },
        `stalls: run ${run.id} stalled (no counter moved since ${run.stalledSince}); now ${run.status}`,
      );
      if (r.cancelRequested) {
        try {
          await this.deps.backends.get(run.backend)?.cancel(run);
        } catch (err) {
          const e = coerceError(err);
          this.deps.logger.error({ err: e, runId: run.id }, `stalls: stopping run ${run.id} on its backend failed: ${e.message}`);
        }
      }
    }
    return flagged;
  }
}
