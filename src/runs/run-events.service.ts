import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { SCHEDULER_ACTOR } from '../auth/actors';
import { isRetryableTxError, type Sql, type SqlExecutor } from '../db/sql';
import { ACTIVE_RUN_STATUSES, RunStatus, RunTrigger, type ExecutionBackend, type RunView } from '../domain';
import { AppError, ErrorCode, conflict, notFound } from '../errors';
import type { EventBus } from '../events/bus';
import { Topic, type Publication } from '../events/topics';
import { throttled, type Logger } from '../logger';
import { secondsSince, type EventSource, type RunEventsMetrics } from '../metrics/metrics';
import type { CoreEvent } from './core-events';
import {
  DEFAULT_POLICIES,
  applyEvent,
  assignCursors,
  jobStatusAfter,
  type ApplyContext,
  type BackendPolicy,
  type RunState,
} from './run-apply';
import { toLogLineView, toRunView, toStageView } from './run-rows';
import { readRunView } from './run-queries';
import { jobStatusFor, type RetryPolicy } from './run-state';
import { TERMINAL_SQL, sqlList } from './run-sql';
import { IDEMPOTENCY_TTL_MS, claimIdempotencyKey, setKeyAttempt } from '../db/idempotency-keys';
import { insertRun, lockJob, lockRuns, writeBatch, type JobForRun } from './run-store';

/** While the bus is down, at most one log line per this many ms about publishes that failed. */
const PUBLISH_ERROR_LOG_MS = 10_000;

/** What applying one event did. `run` is the run as it stands after the event's batch. */
export interface ApplyResult {
  outcome: 'applied' | 'duplicate' | 'ignored';
  /** Why an event was ignored (stale attempt, move backwards …). */
  reason?: string;
  run: RunView;
  /** The core moved the run to CANCELLING on its own (a stall with `onStall: STOP`): ask its backend to stop it. */
  cancelRequested?: boolean;
}

/** What applying one event of a batch did: an {@link ApplyResult}, or why it could not apply. */
export type BatchResult =
  | ApplyResult
  | { outcome: 'unknown-run'; reason: string; run: null }
  | { outcome: 'rejected'; reason: string; error: AppError; run: RunView };

export interface RunEventsDeps {
  sql: Sql;
  bus: EventBus;
  logger: Logger;
  /** Retry back-off for jobs without a schedule (`schedule.retryDelaySeconds` overrides the base). */
  retry: RetryPolicy;
  /** Attempts of a run whose job sets no `maxAttempts` (RETRY_MAX_ATTEMPTS). */
  defaultMaxAttempts: number;
  /** Stall timeout of a run whose job sets no `stallTimeoutSeconds` (STALL_THRESHOLD_MS). */
  defaultStallTimeoutMs: number;
  /** A run of a heartbeat or engine-poll backend is stuck after this long without a sign of life (STUCK_THRESHOLD_MS). */
  stuckThresholdMs: number;
  /** Each backend's liveness rule and initial status; default: jobwire's own backends' ({@link DEFAULT_POLICIES}). */
  policy?: (kind: ExecutionBackend) => BackendPolicy;
  /**
   * Log lines and metric samples of runs finished longer ago than this are deleted by {@link
   * RunEventsService.prune} (the runs themselves, their stages, latest metrics and error stay).
   * 0 or absent: kept forever.
   */
  logRetentionMs?: number;
  /** Where events and transactions are counted (`jobwire_run_events_total`, `jobwire_run_apply_duration_seconds`); none: not counted. */
  metrics?: RunEventsMetrics;
  now?: () => Date;
  random?: () => number;
}

/** An idempotency key a command is made under. */
export interface KeyClaim {
  scope: string;
  key: string;
}

/** Dedupe records are kept this long; a redelivery older than that is treated as new. */
export const APPLIED_EVENT_TTL_MS = 7 * 24 * 3600 * 1000;
/** Most log lines one bus message carries. */
const LOG_MESSAGE_LINES = 1000;
/** Most log lines (and, apart, metric samples) one prune pass deletes. */
export const PRUNE_BATCH = 50_000;
/** Tries of a transaction that failed on a deadlock or serialization failure. */
const TX_TRIES = 3;
const ACTIVE = sqlList(ACTIVE_RUN_STATUSES);

/**
 * The one writer of run state. Every change of a run or its stages — events from Kafka, the Spark
 * poller and the LOCAL executor, mutations, the scheduler, the monitors, leases and claims — goes
 * through here: validated rules (run-apply.ts), one transaction, set-based writes (run-store.ts),
 * and only after the commit one publication per run per batch.
 */
export class RunEventsService {
  /** Runs finished before this had their logs and samples pruned completely by a pass of this process. */
  private prunedBefore: Date | null = null;
  private readonly policy: (kind: ExecutionBackend) => BackendPolicy;
  /** Whose events go through this handle (see {@link withSource}). */
  private readonly source: EventSource = 'internal';

  constructor(private readonly deps: RunEventsDeps) {
    this.policy = deps.policy ?? ((kind) => DEFAULT_POLICIES[kind]);
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /**
   * This same writer (same state, same database), its events counted under `source` in
   * `jobwire_run_events_total`: the composition root hands each component a handle of its own
   * (the Kafka consumer `kafka`, the mutations `api` …), so the writer knows where an event came
   * from without trusting its free-form `producer`.
   */
  withSource(source: EventSource): RunEventsService {
    return Object.assign(Object.create(this), { source }) as RunEventsService;
  }

  /** Counts what a committed batch came to (by outcome). */
  private count(results: readonly { outcome: BatchResult['outcome'] }[]): void {
    const m = this.deps.metrics;
    if (!m || results.length === 0) return;
    if (results.length === 1) return m.events(this.source, results[0].outcome);
    const by = new Map<BatchResult['outcome'], number>();
    for (const r of results) by.set(r.outcome, (by.get(r.outcome) ?? 0) + 1);
    for (const [outcome, n] of by) m.events(this.source, outcome, n);
  }

  /**
   * Applies many events, of any runs, in one transaction; the results follow their order. An event
   * of an unknown run, a duplicate (its `eventId` was applied before) or one the rules refuse
   * changes nothing and does not hold up the others. Rejects (nothing written) only when the
   * database does.
   */
  applyBatch(events: readonly CoreEvent[]): Promise<BatchResult[]> {
    if (events.length === 0) return Promise.resolve([]);
    return this.transact('batch', async (tx, pubs) => this.runBatch(tx, pubs, events, { last: true })).then((results) => {
      this.count(results);
      return results;
    });
  }

  /**
   * Applies one event in its own transaction. Throws NOT_FOUND for an unknown run, CONFLICT for a
   * manual retry of a run that is not FAILED. With `key`, the same key in the same scope within
   * 24 h applies nothing again and answers `{ outcome: 'duplicate' }` with the run as it is.
   */
  async apply(event: CoreEvent, opts: { key?: KeyClaim } = {}): Promise<ApplyResult> {
    try {
      const result = await this.applyOne(event, opts);
      this.count([result]);
      return result;
    } catch (err) {
      if (err instanceof AppError) this.count([{ outcome: err.code === ErrorCode.NOT_FOUND ? 'unknown-run' : 'rejected' }]);
      throw err;
    }
  }

  private applyOne(event: CoreEvent, opts: { key?: KeyClaim }): Promise<ApplyResult> {
    return this.transact('apply', async (tx, pubs) => {
      if (opts.key) {
        const claim = await claimIdempotencyKey(tx, { ...opts.key, resultId: event.runId, now: this.now() });
        if (!claim.fresh) {
          const run = await readRunView(tx, claim.resultId);
          if (!run) throw notFound('Run', claim.resultId);
          return { outcome: 'duplicate', reason: 'idempotency key used before', run };
        }
      }
      const [result] = await this.runBatch(tx, pubs, [event], { throwOnReject: true, last: !opts.key });
      if (result.outcome === 'unknown-run') throw notFound('Run', event.runId);
      if (opts.key && result.outcome === 'applied') await setKeyAttempt(tx, opts.key.scope, opts.key.key, result.run.attempt);
      return result as ApplyResult;
    });
  }

  /**
   * Creates run N+1 of a job in the status its backend starts runs in, its first attempt triggered
   * by `actor` (a caller's subject; audit). The same `idempotencyKey`
   * for the same job within 24 h returns the run it made and creates nothing. NOT_FOUND for an
   * unknown job.
   */
  createRun(
    jobId: string,
    trigger: RunTrigger,
    opts: { idempotencyKey?: string; actor?: string | null } = {},
  ): Promise<{ run: RunView; created: boolean }> {
    return this.transact('create', async (tx, pubs) => {
      const job = await lockJob(tx, jobId);
      if (!job) throw notFound('Job', jobId);
      return this.insertRunFor(tx, pubs, job, trigger, opts.actor ?? null, opts.idempotencyKey);
    });
  }

  /**
   * Fires a job's schedule if it is still due and no other gateway holds the job: moves
   * `nextRunAt` on (`decide` says where to, and whether to fire) and creates a run unless the job
   * still has an active one. Null when nothing was due here; `run` null when the time passed
   * without a run (and `skipped` says why).
   */
  fireSchedule(
    jobId: string,
    decide: (job: JobForRun, now: Date) => { nextRunAt: Date | null; fire: boolean; reason?: string },
  ): Promise<{ run: RunView | null; skipped?: string; dueAt: Date; nextRunAt: Date | null } | null> {
    return this.transact('schedule', async (tx, pubs) => {
      const now = this.now();
      const job = await lockJob(tx, jobId, true);
      if (!job?.nextRunAt || job.nextRunAt.getTime() > now.getTime()) return null;
      const dueAt = job.nextRunAt;
      const d = decide(job, now);
      await tx.query('update jobs set next_run_at = $2 where id = $1', [jobId, d.nextRunAt], 'jobwire_job_next_run');
      if (!d.fire) return { run: null, skipped: d.reason ?? 'not fired', dueAt, nextRunAt: d.nextRunAt };
      const active = await tx.query(`select 1 from runs where job_id = $1 and status in ${ACTIVE} limit 1`, [jobId], 'jobwire_job_active');
      if (active.length) return { run: null, skipped: 'the job still has an active run', dueAt, nextRunAt: d.nextRunAt };
      const { run } = await this.insertRunFor(tx, pubs, job, RunTrigger.SCHEDULE, SCHEDULER_ACTOR);
      return { run, dueAt, nextRunAt: d.nextRunAt };
    });
  }

  /**
   * Claims up to `limit` QUEUED runs of `backend` nobody holds (among `ids` when given), oldest
   * first, for `owner`: each moves to RUNNING with a lease of `leaseMs`. Runs another gateway is claiming are skipped, never
   * waited for. Returns the claimed runs in queue order.
   */
  claimQueued(
    backend: ExecutionBackend,
    opts: { owner: string; leaseMs: number; limit: number; producer?: string; ids?: readonly string[] },
  ): Promise<RunView[]> {
    if (opts.limit <= 0 || opts.ids?.length === 0) return Promise.resolve([]);
    return this.transact('claim', async (tx, pubs) => {
      const rows = opts.ids
        ? await tx.query<{ id: string }>(
            `select id from runs where status = 'QUEUED' and backend = $1 and lease_owner is null and id = any($3::uuid[])
             order by queued_at nulls last, created_at limit $2 for update skip locked`,
            [backend, opts.limit, opts.ids],
            'jobwire_queued_among',
          )
        : await tx.query<{ id: string }>(
            `select id from runs where status = 'QUEUED' and backend = $1 and lease_owner is null
             order by queued_at nulls last, created_at limit $2 for update skip locked`,
            [backend, opts.limit],
            'jobwire_queued',
          );
      if (rows.length === 0) return [];
      const events: CoreEvent[] = rows.map((r) => ({
        runId: r.id,
        type: 'run.claim',
        producer: opts.producer,
        payload: { owner: opts.owner, leaseMs: opts.leaseMs },
      }));
      return this.runBatch(tx, pubs, events, { last: true });
    }).then((results) => {
      this.count(results);
      return results.filter((r) => r.outcome === 'applied').map((r) => r.run!);
    });
  }

  /**
   * Inside `tx` — a transaction someone else opened and will commit, on jobwire's database (the
   * LOCAL executor's load) — renews `owner`'s lease on attempt `attempt` of run `runId` and says
   * whether `owner` still holds it: false once the lease was given up, the run ended or moved to
   * another attempt, or another gateway claimed it. The run's row stays locked until `tx` ends, so
   * nobody can take the run over between this check and that commit. A lease renewal changes
   * nothing subscribers see, so there is nothing to publish.
   */
  async holdLeaseIn(tx: SqlExecutor, lease: { runId: string; attempt: number; owner: string; leaseMs: number }): Promise<boolean> {
    const pubs: Publication[] = [];
    const [r] = await this.runBatch(tx, pubs, [
      { runId: lease.runId, attempt: lease.attempt, type: 'run.lease', payload: { owner: lease.owner, leaseMs: lease.leaseMs } },
    ]);
    if (pubs.length) await this.publish(pubs);
    this.count([r]);
    return r.outcome === 'applied' && r.run?.attempt === lease.attempt;
  }

  /**
   * Gives up every lease `owner` still holds (a gateway stopping): runs still executing keep their
   * owner but their lease (and liveness deadline) ends now, so any gateway's stuck monitor takes
   * them on its next pass; the others just lose the owner. Returns how many runs changed.
   */
  async releaseLeases(owner: string): Promise<number> {
    const now = this.now();
    const rows = await this.deps.sql.transaction((tx) =>
      tx.query(
        `update runs set lease_expires_at = case when status in ('RUNNING', 'CANCELLING') then $2::timestamptz end,
           alive_until = case when status in ('RUNNING', 'CANCELLING') then $2::timestamptz else alive_until end,
           lease_owner = case when status in ('RUNNING', 'CANCELLING') then lease_owner end
         where lease_owner = $1 returning id`,
        [owner, now],
      ),
    );
    return rows.length;
  }

  /**
   * Deletes a job with its runs, stages, log lines, metric samples and keys, in one transaction.
   * CONFLICT while a run is active; NOT_FOUND for an unknown job.
   */
  deleteJob(jobId: string): Promise<void> {
    return this.transact('delete', async (tx) => {
      if (!(await lockJob(tx, jobId))) throw notFound('Job', jobId);
      const active = await tx.query<{ id: string; number: number; status: RunStatus }>(
        `select id, number, status from runs where job_id = $1 and status in ${ACTIVE} limit 1`,
        [jobId],
      );
      if (active.length) {
        const a = active[0];
        throw conflict(`Job ${jobId} cannot be deleted while run #${a.number} (${a.id}) is ${a.status}; stop it or wait until it ends`);
      }
      const runs = 'select id from runs where job_id = $1::uuid';
      await tx.query(`delete from run_logs where run_id in (${runs})`, [jobId]);
      await tx.query(`delete from run_stages where run_id in (${runs})`, [jobId]);
      await tx.query(`delete from run_metric_samples where run_id in (${runs})`, [jobId]);
      await tx.query(`delete from applied_events where run_id in (${runs})`, [jobId]);
      await tx.query(`delete from idempotency_keys where scope = $2 or result_id in (${runs})`, [jobId, `startJob:${jobId}`]);
      await tx.query('delete from runs where job_id = $1', [jobId]);
      await tx.query('delete from jobs where id = $1', [jobId]);
    });
  }

  /**
   * Deletes dedupe records and idempotency keys past their time, and the log lines and metric
   * samples of runs finished longer ago than `logRetentionMs` (at most {@link PRUNE_BATCH} rows of
   * each per call, so one pass never holds locks for long). Returns how many rows went.
   */
  async prune(): Promise<number> {
    const sql = this.deps.sql;
    const now = this.now().getTime();
    const a = await sql.query('delete from applied_events where applied_at < $1 returning 1', [new Date(now - APPLIED_EVENT_TTL_MS)]);
    const b = await sql.query('delete from idempotency_keys where created_at < $1 returning 1', [new Date(now - IDEMPOTENCY_TTL_MS)]);
    let c = 0;
    if (this.deps.logRetentionMs) {
      const cutoff = new Date(now - this.deps.logRetentionMs);
      // Finished for good: terminal, and no automatic retry pending (that would make it active again).
      // Runs finished before an earlier complete pass were pruned then: look only at the new ones.
      const from = this.prunedBefore;
      const expired = `select id from runs where status in ${TERMINAL_SQL} and next_retry_at is null and finished_at < $1${
        from ? ' and finished_at >= $2' : ''
      }`;
      let complete = true;
      for (const table of ['run_logs', 'run_metric_samples']) {
        const rows = await sql.query(
          `delete from ${table} where ctid = any(array(select ctid from ${table} where run_id in (${expired}) limit ${PRUNE_BATCH})) returning 1`,
          from ? [cutoff, from] : [cutoff],
        );
        c += rows.length;
        if (rows.length === PRUNE_BATCH) complete = false;
      }
      if (complete) this.prunedBefore = cutoff;
    }
    return a.length + b.length + c;
  }

  /**
   * Runs `fn` in one transaction (tried again on a deadlock or serialization failure); after it
   * commits, publishes what it produced. When the bus is down the change is still durable;
   * subscribers catch up from their snapshot on reconnect. `operation` names it in
   * `jobwire_run_apply_duration_seconds` (its tries and publish included).
   */
  private async transact<T>(operation: string, fn: (tx: SqlExecutor, pubs: Publication[]) => Promise<T>): Promise<T> {
    const started = performance.now();
    for (let attempt = 1; ; attempt++) {
      const pubs: Publication[] = [];
      try {
        const result = await this.deps.sql.transaction((tx) => fn(tx, pubs));
        await this.publish(pubs);
        this.deps.metrics?.transaction(operation, secondsSince(started));
        return result;
      } catch (err) {
        if (attempt < TX_TRIES && isRetryableTxError(err)) continue;
        throw err;
      }
    }
  }

  /**
   * Publishes after a commit. A failure (Redis away) never reaches the caller: the change is
   * durable, and subscribers re-read it when the bus is back (EventBus resync). Logged once, then
   * at most every {@link PUBLISH_ERROR_LOG_MS} while the bus stays down.
   */
  private async publish(publications: Publication[]): Promise<void> {
    if (publications.length === 0) return;
    try {
      await this.deps.bus.publishAll(publications);
    } catch (err) {
      this.reportPublishError(err, publications.length);
    }
  }

  private readonly reportPublishError = throttled(PUBLISH_ERROR_LOG_MS, (suppressed, err: unknown, count: number) =>
    this.deps.logger.error(
      { err, count, failuresSinceLastReport: suppressed, component: 'run-events' },
      'publishing run events failed after commit (the change is stored; subscribers resync when the bus is back)',
    ),
  );

  private context(now: Date): ApplyContext {
    return { now, retry: this.deps.retry, stuckThresholdMs: this.deps.stuckThresholdMs, policy: this.policy, random: this.deps.random };
  }

  /** The batch core: lock, dedupe, apply in memory, write, and collect what to publish. */
  private async runBatch(
    tx: SqlExecutor,
    pubs: Publication[],
    events: readonly CoreEvent[],
    opts: { throwOnReject?: boolean; last?: boolean } = {},
  ): Promise<BatchResult[]> {
    const now = this.now();
    const keyed = new Map<string, string>();
    for (const e of events) if (e.eventId && !keyed.has(e.eventId)) keyed.set(e.eventId, e.runId);
    const { states, fresh } = await lockRuns(
      tx,
      [...new Set(events.map((e) => e.runId))],
      [...keyed].map(([eventId, runId]) => ({ eventId, runId })),
      now,
    );
    const ctx = this.context(now);
    const outcomes = events.map((e) => {
      const s = states.get(e.runId);
      if (!s) return { outcome: 'unknown-run' as const, reason: `run ${e.runId} does not exist` };
      if (e.eventId) {
        if (!fresh.delete(e.eventId)) return { outcome: 'duplicate' as const };
      }
      try {
        const o = applyEvent(s, e, ctx);
        if (o.outcome === 'ignored') {
          this.deps.logger.debug(
            { runId: e.runId, eventId: e.eventId, type: e.type, producer: e.producer, reason: o.reason },
            'run event ignored',
          );
        }
        return o;
      } catch (err) {
        if (opts.throwOnReject || !(err instanceof AppError)) throw err;
        return { outcome: 'rejected' as const, reason: err.message, error: err };
      }
    });
    const jobStatuses = [];
    for (const s of states.values()) {
      if (s.changed) s.row.version += 1;
      assignCursors(s);
      const status = jobStatusAfter(s);
      if (status) jobStatuses.push({ jobId: s.row.jobId, runId: s.row.id, status });
    }
    await writeBatch(tx, { states: [...states.values()], jobStatuses }, opts.last);
    const views = new Map<string, RunView>();
    for (const s of states.values()) {
      views.set(s.row.id, toRunView(s.row, s.stages));
      this.collect(s, views.get(s.row.id)!, pubs);
    }
    return outcomes.map((o, i) => {
      const run = views.get(events[i].runId) ?? null;
      const s = states.get(events[i].runId);
      return { ...o, run, ...(s?.cancelRequested ? { cancelRequested: true } : {}) } as BatchResult;
    });
  }

  /**
   * One publication per run, stage and kind per batch, made from the run as the batch left it. The
   * log lines go out before the run (the order of their cursors, see assignCursors).
   */
  private collect(s: RunState, view: RunView, pubs: Publication[]) {
    const id = s.row.id;
    for (let i = 0; i < s.logs.length; i += LOG_MESSAGE_LINES) {
      const lines = s.logs.slice(i, i + LOG_MESSAGE_LINES);
      pubs.push({ topic: Topic.RUN_LOGS, id, payload: { runId: id, lines: lines.map(toLogLineView), firstEventSeq: lines[0].eventSeq } });
    }
    for (const stage of s.stages)
      if (s.dirtyStages.has(stage.name)) pubs.push({ topic: Topic.RUN_STAGES, id, payload: toStageView(stage) });
    if (s.samples.length && view.metrics) pubs.push({ topic: Topic.RUN_METRICS, id, payload: view.metrics });
    if (!s.changed) return;
    pubs.push({ topic: Topic.RUN, id, payload: view }, { topic: Topic.JOB_RUNS, id: view.jobId, payload: view });
    if (s.statusChanged) {
      pubs.push(
        { topic: Topic.RUN_STATUS, payload: view },
        { topic: Topic.JOB_RUN_STATUS, id: view.jobId, payload: view },
        { topic: Topic.BACKEND_RUN_STATUS, id: view.backend, payload: view },
      );
    }
  }

  private async insertRunFor(
    tx: SqlExecutor,
    pubs: Publication[],
    job: JobForRun,
    trigger: RunTrigger,
    actor: string | null,
    idempotencyKey?: string,
  ): Promise<{ run: RunView; created: boolean }> {
    const now = this.now();
    const id = randomUUID();
    if (idempotencyKey) {
      const claim = await claimIdempotencyKey(tx, { scope: `startJob:${job.id}`, key: idempotencyKey, resultId: id, now });
      if (!claim.fresh) {
        const existing = await readRunView(tx, claim.resultId);
        if (existing) return { run: existing, created: false };
        await tx.query('update idempotency_keys set result_id = $3, created_at = $4 where scope = $1 and key = $2', [
          `startJob:${job.id}`,
          idempotencyKey,
          id,
          now,
        ]);
      }
    }
    const policy = this.policy(job.backend);
    const status = policy.initialStatus;
    const row = await insertRun(
      tx,
      {
        id,
        jobId: job.id,
        trigger,
        status,
        backend: job.backend,
        maxAttempts: job.maxAttempts ?? this.deps.defaultMaxAttempts,
        stallTimeoutS: job.stallTimeoutSeconds ?? Math.round(this.deps.defaultStallTimeoutMs / 1000),
        aliveUntil: policy.liveness === 'lease' ? null : new Date(now.getTime() + this.deps.stuckThresholdMs),
        triggeredBy: actor,
        now,
      },
      jobStatusFor(status),
    );
    const view = toRunView(row, []);
    pubs.push(
      { topic: Topic.RUN, id, payload: view },
      { topic: Topic.JOB_RUNS, id: view.jobId, payload: view },
      { topic: Topic.RUN_STATUS, payload: view },
      { topic: Topic.JOB_RUN_STATUS, id: view.jobId, payload: view },
      { topic: Topic.BACKEND_RUN_STATUS, id: view.backend, payload: view },
    );
    return { run: view, created: true };
  }
}

export { AppError, ErrorCode, IDEMPOTENCY_TTL_MS };
