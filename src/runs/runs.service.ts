import type { EntityManager } from '@mikro-orm/postgresql';
import type { JobStatsView, LogQuery, RunsApi } from '../api';
import type { BackendRegistry } from '../backends/backend';
import type { Config } from '../config';
import { JobEntity, RunEntity } from '../db/entities';
import type { Orm } from '../db/orm';
import { ExecutionBackend, RunStatus, RunTrigger, type LogLineView, type MetricsView, type RunView, type StageView } from '../domain';
import { badInput, conflict, notFound, unavailable, withContext } from '../errors';
import type { Connection, PageArgs, RunFilter } from '../jobs/job-input';
import type { Logger } from '../logger';
import { decodeTimeCursor, encodeTimeCursor, isUuid, pageSize, toConnection } from '../pagination';
import type { RunEventsService } from './run-events.service';
import { submitRun } from './submit-run';
import { countDeadLettered, countRuns, countRunsByStatus, findLogLines, findRunsPage, findStuckRuns, stagesOf } from './run-queries';
import { toRunView, toStageView } from './run-view';

export interface RunsServiceDeps {
  orm: Orm;
  runEvents: RunEventsService;
  backends: BackendRegistry;
  config: Readonly<Config>;
  logger: Logger;
}

export const MAX_IDEMPOTENCY_KEY = 200;
export const DEFAULT_LOG_PAGE = 100;
/** Most stuck runs `stats()` lists. */
export const MAX_STUCK_RUNS = 100;

/**
 * Starting, stopping and retrying runs, and reading them. Every change goes through the run-event
 * service; this service only decides what to ask for and talks to the backends.
 */
export class RunsService implements RunsApi {
  private readonly logger: Logger;

  /** `logger` should carry the component (`component: 'runs'`): the composition root binds it. */
  constructor(private readonly deps: RunsServiceDeps) {
    this.logger = deps.logger;
  }

  private em(): EntityManager {
    return this.deps.orm.em.fork() as EntityManager;
  }

  /**
   * Creates run N+1 of a job and hands it to its backend. The same `idempotencyKey` for the same
   * job within 24 h returns the run it made (and submits nothing). NOT_FOUND for an unknown job;
   * UNAVAILABLE (nothing written) when the job's backend is not configured here; BAD_USER_INPUT
   * (`idempotencyKey`) for an empty or over-long key. When the backend refuses the submission the
   * run is returned FAILED with a TRANSIENT error, so it is retried like any other failure.
   */
  async start(jobId: string, opts: { idempotencyKey?: string | null; trigger?: RunTrigger } = {}): Promise<RunView> {
    const key = opts.idempotencyKey ?? undefined;
    if (key !== undefined && (typeof key !== 'string' || key.trim() === '' || key.length > MAX_IDEMPOTENCY_KEY)) {
      throw badInput('idempotencyKey', `must be a non-empty string of at most ${MAX_IDEMPOTENCY_KEY} characters`);
    }
    const job = isUuid(jobId) ? await this.em().findOne(JobEntity, { id: jobId }, { fields: ['id', 'backend'] }) : null;
    if (!job) throw notFound('Job', jobId);
    this.assertAvailable(job.backend);
    const { run, created } = await this.deps.runEvents.createRun(jobId, opts.trigger ?? RunTrigger.MANUAL, { idempotencyKey: key });
    if (!created) return run;
    this.logger.info({ runId: run.id, jobId, number: run.number, backend: run.backend, trigger: run.trigger }, 'run created');
    return this.submit(run);
  }

  /**
   * Stops a run. A run no engine has picked up yet, or any run with `force`, ends CANCELLED at
   * once; a started one moves to CANCELLING and its backend is asked to kill it (the run ends when
   * the engine confirms; if that request fails the stuck monitor reconciles later). Stopping a
   * FAILED run that waits for an automatic retry cancels the retry. NOT_FOUND for an unknown run;
   * CONFLICT for a run already finished.
   */
  async stop(runId: string, force: boolean): Promise<RunView> {
    const before = await this.requireRun(runId);
    const finished = (r: { status: RunStatus; nextRetryAt: unknown }) =>
      r.status === RunStatus.SUCCEEDED || r.status === RunStatus.CANCELLED || (r.status === RunStatus.FAILED && !r.nextRetryAt);
    if (finished(before)) throw conflict(`run ${runId} already ${before.status}`);
    const result = await this.deps.runEvents.apply({ type: 'run.cancel', runId, payload: { force: force === true } });
    // It may have finished between the check and the event.
    if (result.outcome === 'ignored' && finished(result.run)) throw conflict(`run ${runId} already ${result.run.status}`);
    const run = result.run;
    const handedOver = before.externalId !== null || before.status === RunStatus.RUNNING || before.status === RunStatus.CANCELLING;
    if (run.status === RunStatus.CANCELLING || (run.status === RunStatus.CANCELLED && handedOver)) {
      const backend = this.deps.backends.get(run.backend);
      try {
        await backend?.cancel(run);
      } catch (err) {
        const e = withContext(err, `cancel of run ${run.id} on the ${run.backend} backend`);
        this.logger.error(
          { err: e, runId: run.id, jobId: run.jobId, backend: run.backend },
          'backend cancel failed; the stuck monitor will reconcile',
        );
      }
    }
    return run;
  }

  /**
   * Starts a new attempt of a FAILED run (dead-lettered ones too), with fresh stages and the
   * attempt history kept. NOT_FOUND for an unknown run; UNAVAILABLE when its backend is not
   * configured (checked first); CONFLICT when the run is not FAILED.
   */
  async retry(runId: string): Promise<RunView> {
    const before = await this.requireRun(runId);
    this.assertAvailable(before.backend);
    const result = await this.deps.runEvents.apply({ type: 'run.retry', runId, payload: { manual: true } });
    this.logger.info({ runId, jobId: before.jobId, attempt: result.run.attempt }, 'run retried by hand');
    return this.submit(result.run);
  }

  async get(id: string): Promise<RunView | null> {
    if (!isUuid(id)) return null;
    const em = this.em();
    const run = await em.findOne(RunEntity, { id });
    if (!run) return null;
    return toRunView(run, (await stagesOf(em, [id])).get(id)!);
  }

  /** Several runs with their stages in two queries, in the order of `ids` (null where unknown). */
  async getMany(ids: readonly string[]): Promise<(RunView | null)[]> {
    const valid = [...new Set(ids.filter(isUuid))];
    if (valid.length === 0) return ids.map(() => null);
    const em = this.em();
    const runs = await em.find(RunEntity, { id: { $in: valid } });
    const stages = await stagesOf(
      em,
      runs.map((r) => r.id),
    );
    const byId = new Map(runs.map((r) => [r.id, toRunView(r, stages.get(r.id) ?? [])]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  /** Runs newest first (createdAt desc, id desc), by job and/or status, with their stages. */
  async list(filter: RunFilter | null | undefined, page: PageArgs): Promise<Connection<RunView> & { totalCount: number }> {
    const limit = pageSize(page.first, this.deps.config.limits.maxPageSize);
    const after = decodeTimeCursor(page.after);
    const values = { jobId: filter?.jobId, status: filter?.status };
    if (values.jobId && !isUuid(values.jobId)) return { edges: [], pageInfo: { hasNextPage: false, endCursor: null }, totalCount: 0 };
    const em = this.em();
    const [runs, totalCount] = await Promise.all([findRunsPage(em, values, after, limit + 1), countRuns(em, values)]);
    const stages = await stagesOf(
      em,
      runs.slice(0, limit).map((r) => r.id),
    );
    const views = runs.map((r) => toRunView(r, stages.get(r.id) ?? []));
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
    const em = this.em();
    const [, lines] = await Promise.all([
      this.requireRun(runId, em),
      findLogLines(em, runId, { afterSeq, limit: limit + 1, minLevel: query.minLevel, contains: query.contains }),
    ]);
    return toConnection(lines, limit, (l) => l.seq);
  }

  /** The stages of a run's current attempt. NOT_FOUND for an unknown run. */
  async stages(runId: string): Promise<StageView[]> {
    const em = this.em();
    await this.requireRun(runId, em);
    return (await stagesOf(em, [runId])).get(runId)!.map(toStageView);
  }

  /** The latest metric sample of the run's current attempt, null before the first. NOT_FOUND for an unknown run. */
  async latestMetrics(runId: string): Promise<MetricsView | null> {
    return (await this.requireRun(runId)).metrics;
  }

  /**
   * Counts for an overview dashboard. It reads every run's status (an index-only scan of
   * runs_status_created_idx), so callers that refresh it on every change should throttle.
   */
  async stats(): Promise<JobStatsView> {
    const em = this.em();
    const [byStatus, deadLettered, stuck] = await Promise.all([
      countRunsByStatus(em),
      countDeadLettered(em),
      findStuckRuns(em, this.deps.config.stuckThresholdMs, MAX_STUCK_RUNS),
    ]);
    const stages = await stagesOf(
      em,
      stuck.map((s) => s.run.id),
    );
    const finished = byStatus.SUCCEEDED + byStatus.FAILED;
    return {
      runsByStatus: Object.values(RunStatus).map((status) => ({ status, count: byStatus[status] })),
      successRate: finished > 0 ? byStatus.SUCCEEDED / finished : null,
      running: byStatus.RUNNING,
      deadLettered,
      stuckRuns: stuck.map(({ run }) => toRunView(run, stages.get(run.id) ?? [])),
    };
  }

  private async requireRun(runId: string, em = this.em()): Promise<RunEntity> {
    const run = isUuid(runId) ? await em.findOne(RunEntity, { id: runId }) : null;
    if (!run) throw notFound('Run', runId);
    return run;
  }

  private assertAvailable(kind: ExecutionBackend): void {
    const reason = this.deps.backends.unavailableReason(kind);
    if (reason) throw unavailable(`The ${kind} backend is not available: ${reason}`);
  }

  /** Hands a new attempt to its backend; a refusal fails the attempt TRANSIENT (it will be retried). */
  private async submit(run: RunView): Promise<RunView> {
    const refused = await submitRun({ ...this.deps, logger: this.logger }, run);
    // The backend may already have moved the run on (QUEUED with an external id …): return that.
    return refused ?? (await this.get(run.id)) ?? run;
  }
}
