import {
  MAX_METRICS_HISTORY,
  type CursorRange,
  type JobStatsView,
  type LogQuery,
  type MetricsHistoryQuery,
  type RunsApi,
  type SequencedLogLine,
} from '../api';
import type { BackendRegistry } from '../backends/backend';
import type { Config } from '../config';
import type { Sql } from '../db/sql';
import { ExecutionBackend, RunStatus, RunTrigger, type LogLineView, type MetricsView, type RunView, type StageView } from '../domain';
import { badInput, notFound, unavailable, withContext } from '../errors';
import type { Connection, PageArgs, RunFilter } from '../jobs/job-input';
import type { Logger } from '../logger';
import { decodeTimeCursor, encodeTimeCursor, isUuid, pageSize, toConnection } from '../pagination';
import type { RunEventsService } from './run-events.service';
import { estimateFinishAt } from './finish-estimate';
import { findLogLinesByCursor } from './run-event-queries';
import { submitRun } from './submit-run';
import {
  countDeadLettered,
  countRuns,
  countRunsByStatus,
  countRunsByStatusAndBackend,
  countStalled,
  findLogLines,
  findMetricsHistory,
  findRunsPage,
  findStuckRuns,
  readRunAtCursor,
  readRunView,
  readRunViews,
  readStages,
} from './run-queries';

export interface RunsServiceDeps {
  sql: Sql;
  runEvents: RunEventsService;
  backends: BackendRegistry;
  config: Readonly<Config>;
  logger: Logger;
  now?: () => Date;
}

export const MAX_IDEMPOTENCY_KEY = 200;
export const DEFAULT_LOG_PAGE = 100;
/** Samples `Run.metricsHistory` returns per run by default (the contract's `first: Int = 600`). */
export const DEFAULT_METRICS_HISTORY = 600;
/** Most stuck runs `stats()` lists. */
export const MAX_STUCK_RUNS = 100;

/** Validates an idempotency key: a non-empty string of at most {@link MAX_IDEMPOTENCY_KEY} characters, or nothing. */
export function checkIdempotencyKey(key: string | null | undefined): string | undefined {
  if (key === undefined || key === null) return undefined;
  if (typeof key !== 'string' || key.trim() === '' || key.length > MAX_IDEMPOTENCY_KEY) {
    throw badInput('idempotencyKey', `must be a non-empty string of at most ${MAX_IDEMPOTENCY_KEY} characters`);
  }
  return key;
}

/**
 * Starting, stopping and retrying runs, and reading them. Every change goes through the run-event
 * service; this service only decides what to ask for and talks to the backends. Reads are plain
 * SQL made into views, one statement per run with its stages.
 */
export class RunsService implements RunsApi {
  private readonly logger: Logger;

  /** `logger` should carry the component (`component: 'runs'`): the composition root binds it. */
  constructor(private readonly deps: RunsServiceDeps) {
    this.logger = deps.logger;
  }

  /**
   * Creates run N+1 of a job and hands it to its backend; `actor` (the caller's subject) is recorded
   * as its first attempt's `triggeredBy`. The same `idempotencyKey` for the same
   * job within 24 h returns the run it made (and submits nothing). NOT_FOUND for an unknown job;
   * UNAVAILABLE (nothing written) when the job's backend is not configured here; BAD_USER_INPUT
   * (`idempotencyKey`) for an empty or over-long key. When the backend refuses the submission the
   * run is returned FAILED with a TRANSIENT error, so it is retried like any other failure.
   */
  async start(jobId: string, opts: { idempotencyKey?: string | null; trigger?: RunTrigger; actor?: string | null } = {}): Promise<RunView> {
    const key = checkIdempotencyKey(opts.idempotencyKey);
    const rows = isUuid(jobId)
      ? await this.deps.sql.query<{ backend: ExecutionBackend }>('select backend from jobs where id = $1', [jobId], 'jobwire_job_backend')
      : [];
    if (!rows.length) throw notFound('Job', jobId);
    this.assertAvailable(rows[0].backend);
    const { run, created } = await this.deps.runEvents.createRun(jobId, opts.trigger ?? RunTrigger.MANUAL, {
      idempotencyKey: key,
      actor: opts.actor,
    });
    if (!created) return run;
    this.logger.info({ runId: run.id, jobId, number: run.number, backend: run.backend, trigger: run.trigger }, 'run created');
    return submitRun({ ...this.deps, logger: this.logger }, run);
  }

  /**
   * Stops a run. A run no engine has picked up yet, or any run with `force`, ends CANCELLED at
   * once (every unfinished stage with it); a started one moves to CANCELLING and its backend is
   * asked to kill it (the run ends when the engine confirms; if that request fails the stuck
   * monitor reconciles later); `actor` is recorded as its `stoppedBy`. Stopping a FAILED run that waits for an automatic retry cancels the
   * retry. The same `idempotencyKey` within 24 h returns the run as it is and does nothing again.
   * NOT_FOUND for an unknown run; CONFLICT for a run already finished.
   */
  async stop(runId: string, force: boolean, opts: { idempotencyKey?: string | null; actor?: string | null } = {}): Promise<RunView> {
    const key = checkIdempotencyKey(opts.idempotencyKey);
    const before = await this.requireRun(runId);
    const claim = key ? { scope: `stopRun:${runId}`, key } : undefined;
    // A finished run is refused inside the event's transaction, so a refused call records no key.
    const cancel = {
      type: 'run.cancel' as const,
      runId,
      payload: { force: force === true, refuseFinished: true, actor: opts.actor ?? undefined },
    };
    const result = await this.deps.runEvents.apply(cancel, { key: claim });
    if (result.outcome === 'duplicate') return result.run;
    const run = result.run;
    const handedOver = before.externalId !== null || before.status === RunStatus.RUNNING || before.status === RunStatus.CANCELLING;
    if (run.status === RunStatus.CANCELLING || (run.status === RunStatus.CANCELLED && handedOver)) await this.cancelOnBackend(run);
    return run;
  }

  /**
   * Starts a new attempt of a FAILED run (dead-lettered ones too), with fresh stages and the
   * attempt history kept; `actor` is recorded as the attempt's `triggeredBy`. The same `idempotencyKey` within 24 h returns the run and starts nothing
   * again. NOT_FOUND for an unknown run; UNAVAILABLE when its backend is not configured (checked
   * first); CONFLICT when the run is not FAILED.
   */
  async retry(runId: string, opts: { idempotencyKey?: string | null; actor?: string | null } = {}): Promise<RunView> {
    const key = checkIdempotencyKey(opts.idempotencyKey);
    const before = await this.requireRun(runId);
    this.assertAvailable(before.backend);
    const claim = key ? { scope: `retryRun:${runId}`, key } : undefined;
    const result = await this.deps.runEvents.apply(
      { type: 'run.retry', runId, payload: { manual: true, actor: opts.actor ?? undefined } },
      { key: claim },
    );
    if (result.outcome === 'duplicate') return result.run;
    this.logger.info({ runId, jobId: before.jobId, attempt: result.run.attempt }, 'run retried by hand');
    return submitRun({ ...this.deps, logger: this.logger }, result.run);
  }

  /** Asks the run's backend to stop it; a failure is logged (the stuck monitor reconciles later). */
  async cancelOnBackend(run: RunView): Promise<void> {
    try {
      await this.deps.backends.get(run.backend)?.cancel(run);
    } catch (err) {
      const e = withContext(err, `cancel of run ${run.id} on the ${run.backend} backend`);
      this.logger.error(
        { err: e, runId: run.id, jobId: run.jobId, backend: run.backend },
        'backend cancel failed; the stuck monitor will reconcile',
      );
    }
  }

  get(id: string): Promise<RunView | null> {
    return isUuid(id) ? readRunView(this.deps.sql, id) : Promise.resolve(null);
  }

  /** Several runs with their stages in one statement, in the order of `ids` (null where unknown). */
  async getMany(ids: readonly string[]): Promise<(RunView | null)[]> {
    const byId = await readRunViews(this.deps.sql, [...new Set(ids.filter(isUuid))]);
    return ids.map((id) => byId.get(id) ?? null);
  }

  /** Runs newest first (createdAt desc, id desc), by job and/or status, with their stages. */
  async list(filter: RunFilter | null | undefined, page: PageArgs): Promise<Connection<RunView> & { totalCount: number }> {
    const limit = pageSize(page.first, this.deps.config.limits.maxPageSize);
    const after = decodeTimeCursor(page.after);
    const values = { jobId: filter?.jobId, status: filter?.status, backend: filter?.backend, tag: filter?.tag };
    if (values.jobId && !isUuid(values.jobId)) return { edges: [], pageInfo: { hasNextPage: false, endCursor: null }, totalCount: 0 };
    const sql = this.deps.sql;
    const [views, totalCount] = await Promise.all([findRunsPage(sql, values, after, limit + 1), countRuns(sql, values)]);
    return { ...toConnection(views, limit, (r) => encodeTimeCursor({ createdAt: new Date(r.createdAt), id: r.id })), totalCount };
  }

  /**
   * Log lines after `after` (a LogLine.seq) in seq order; `first` defaults to 100 (at most
   * `limits.maxPageSize`); `minLevel` and `contains` (case-insensitive) filter. The cursor of a line
   * is its seq. NOT_FOUND for an unknown run; BAD_USER_INPUT on `first` or `after`.
   */
  async logs(runId: string, query: LogQuery): Promise<Connection<LogLineView>> {
    const limit = pageSize(query.first, this.deps.config.limits.maxPageSize, DEFAULT_LOG_PAGE);
    let afterSeq = 0;
    if (query.after !== undefined && query.after !== null) {
      if (!/^\d{1,15}$/.test(query.after)) throw badInput('after', 'must be the seq of a log line (a non-negative integer)');
      afterSeq = Number(query.after);
    }
    const [, lines] = await Promise.all([
      this.requireExists(runId),
      findLogLines(this.deps.sql, runId, { afterSeq, limit: limit + 1, minLevel: query.minLevel, contains: query.contains }),
    ]);
    return toConnection(lines, limit, (l) => l.seq);
  }

  /** The stages of a run's current attempt. NOT_FOUND for an unknown run. */
  async stages(runId: string): Promise<StageView[]> {
    await this.requireExists(runId);
    return readStages(this.deps.sql, runId);
  }

  /** The latest metric sample of the run's current attempt, null before the first. NOT_FOUND for an unknown run. */
  async latestMetrics(runId: string): Promise<MetricsView | null> {
    const rows = isUuid(runId)
      ? await this.deps.sql.query<{ metrics: MetricsView | null }>('select metrics from runs where id = $1', [runId], 'jobwire_run_metrics')
      : [];
    if (!rows.length) throw notFound('Run', runId);
    return rows[0].metrics;
  }

  /**
   * Samples of each run's current attempt at or after `since`, oldest first, at most `first`
   * (default 600, 1..{@link MAX_METRICS_HISTORY}) per run, in the order of `runIds`: one statement
   * for all of them. BAD_USER_INPUT naming `first`.
   */
  async metricsHistory(runIds: readonly string[], query: MetricsHistoryQuery): Promise<MetricsView[][]> {
    const first = query.first ?? DEFAULT_METRICS_HISTORY;
    if (!Number.isInteger(first) || first < 1 || first > MAX_METRICS_HISTORY) {
      throw badInput('first', `must be an integer from 1 to ${MAX_METRICS_HISTORY}`);
    }
    const ids = [...new Set(runIds.filter(isUuid))];
    const byRun = await findMetricsHistory(this.deps.sql, ids, query.since ?? null, first);
    return runIds.map((id) => byRun.get(id) ?? []);
  }

  /**
   * When a RUNNING run should finish (ISO-8601), from its stages and latest sample by its backend's
   * stage rule; null when unknown, and for every run that is not RUNNING (a finished one has
   * `finishedAt`). Reads nothing: the view holds all it needs.
   */
  estimatedFinishAt(run: RunView): string | null {
    const rule = this.deps.backends.get(run.backend)?.policy.progress ?? 'mean';
    const at = estimateFinishAt(run, rule);
    return at === null ? null : new Date(at).toISOString();
  }

  /**
   * Counts for an overview dashboard. It reads every run's status (an index-only scan of
   * runs_status_created_idx), so callers that refresh it on every change should throttle.
   */
  async stats(): Promise<JobStatsView> {
    const sql = this.deps.sql;
    const [byStatus, deadLettered, stalled, stuck] = await Promise.all([
      countRunsByStatus(sql),
      countDeadLettered(sql),
      countStalled(sql),
      findStuckRuns(sql, this.deps.now?.() ?? new Date(), MAX_STUCK_RUNS),
    ]);
    const finishedRuns = byStatus.SUCCEEDED + byStatus.FAILED;
    return {
      runsByStatus: Object.values(RunStatus).map((status) => ({ status, count: byStatus[status] })),
      successRate: finishedRuns > 0 ? byStatus.SUCCEEDED / finishedRuns : null,
      running: byStatus.RUNNING,
      deadLettered,
      stalled,
      stuckRuns: stuck,
    };
  }

  /** Every stored run counted by status and backend (the combinations present). Reads every run: for `/metrics`, cached there. */
  countByStatusAndBackend(): Promise<{ status: RunStatus; backend: ExecutionBackend; count: number }[]> {
    return countRunsByStatusAndBackend(this.deps.sql);
  }

  /** The run with its stages and its last `runEvents` cursor, read together; null for an unknown run. */
  atCursor(runId: string): Promise<{ run: RunView; eventSeq: number } | null> {
    return isUuid(runId) ? readRunAtCursor(this.deps.sql, runId) : Promise.resolve(null);
  }

  /** Log lines whose `runEvents` cursor lies in (`after`, `before`), in order (empty for an unknown run). */
  logsByCursor(runId: string, range: CursorRange): Promise<SequencedLogLine[]> {
    return isUuid(runId) ? findLogLinesByCursor(this.deps.sql, runId, range) : Promise.resolve([]);
  }

  private async requireRun(runId: string): Promise<RunView> {
    const run = await this.get(runId);
    if (!run) throw notFound('Run', runId);
    return run;
  }

  private async requireExists(runId: string): Promise<void> {
    const rows = isUuid(runId) ? await this.deps.sql.query('select 1 from runs where id = $1', [runId], 'jobwire_run_exists') : [];
    if (!rows.length) throw notFound('Run', runId);
  }

  private assertAvailable(kind: ExecutionBackend): void {
    const reason = this.deps.backends.unavailableReason(kind);
    if (reason) throw unavailable(`The ${kind} backend is not available: ${reason}`);
  }
}
