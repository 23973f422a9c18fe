import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Orm } from '../db/orm';
import {
  AppliedEventEntity,
  IdempotencyKeyEntity,
  JobEntity,
  LogLineEntity,
  MetricSampleEntity,
  RunEntity,
  StageEntity,
} from '../db/entities';
import { ErrorKind, ExecutionBackend, RunStatus, RunTrigger, StageStatus, isTerminal } from '../domain';
import type { MetricsView, RunAttemptView, RunErrorView, RunView } from '../domain';
import { AppError, ErrorCode, conflict, notFound } from '../errors';
import type { EventBus } from '../events/bus';
import { Topic, type Publication } from '../events/topics';
import type { Logger } from '../logger';
import type { CancelPayload, LogPayload, MetricsPayload, RetryPayload, RunEvent, StagePayload, StatusPayload } from './run-event';
import { afterFailure, checkTransition, jobStatusFor, nextStageStatus, runProgress, stageProgress, type RetryPolicy } from './run-state';
import { TERMINAL_SQL } from './run-sql';
import { toLogLineView, toRunView, toStageView } from './run-view';

/** What applying one event did. `run` is the run as it stands after the event. */
export interface ApplyResult {
  outcome: 'applied' | 'duplicate' | 'ignored';
  /** Why an event was ignored (stale attempt, move backwards …). */
  reason?: string;
  run: RunView;
}

export interface RunEventsDeps {
  orm: Orm;
  bus: EventBus;
  logger: Logger;
  /** Retry back-off for jobs without a schedule (`schedule.retryDelaySeconds` overrides the base). */
  retry: RetryPolicy;
  /**
   * Log lines and metric samples of runs finished longer ago than this are deleted by {@link
   * RunEventsService.prune} (the runs themselves, their stages, latest metrics and error stay).
   * 0 or absent: kept forever.
   */
  logRetentionMs?: number;
  now?: () => Date;
}

/** Dedupe records are kept this long; a redelivery older than that is treated as new. */
export const APPLIED_EVENT_TTL_MS = 7 * 24 * 3600 * 1000;
export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;
const LOG_INSERT_CHUNK = 1000;
/** Most log lines (and, apart, metric samples) one prune pass deletes. */
export const PRUNE_BATCH = 50_000;

/**
 * One unit of work on runs: every change goes through {@link RunTx.apply} (or {@link RunTx.createRun})
 * inside it, and what it produced is published only after the transaction commits.
 */
export class RunTx {
  readonly publications: Publication[] = [];
  /** Stages of the runs this transaction touched: several events of one run read them once. */
  private readonly stagesByRun = new Map<string, StageEntity[]>();

  constructor(
    readonly em: EntityManager,
    private readonly deps: RunEventsDeps,
  ) {}

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /** Creates run N+1 of a job (or returns the run an idempotency key already made within 24 h). */
  async createRun(jobId: string, trigger: RunTrigger, opts: { idempotencyKey?: string } = {}): Promise<{ run: RunView; created: boolean }> {
    const em = this.em;
    const job = await em.findOne(JobEntity, { id: jobId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!job) throw notFound('Job', jobId);
    const now = this.now();
    const key = opts.idempotencyKey ? await em.findOne(IdempotencyKeyEntity, { jobId, key: opts.idempotencyKey }) : null;
    if (key && now.getTime() - key.createdAt.getTime() < IDEMPOTENCY_TTL_MS) {
      const existing = await em.findOne(RunEntity, { id: key.runId });
      if (existing) return { run: await this.view(existing), created: false };
    }
    job.runCounter += 1;
    // LOCAL runs wait in jobwire's own queue; other backends hold a run PENDING until they accept it.
    const status = job.backend === ExecutionBackend.LOCAL ? RunStatus.QUEUED : RunStatus.PENDING;
    const run = em.create(RunEntity, {
      jobId,
      number: job.runCounter,
      attempt: 1,
      maxAttempts: job.maxAttempts,
      trigger,
      status,
      backend: job.backend,
      queuedAt: status === RunStatus.QUEUED ? now : null,
      attempts: [{ attempt: 1, status, startedAt: null, finishedAt: null, error: null }],
      createdAt: now,
      updatedAt: now,
      version: 1,
    });
    job.latestRunId = run.id;
    job.status = jobStatusFor(status);
    // An expired key is reused in place: removing it and creating one with the same primary key in
    // one flush left the old row behind, so the key never pointed at the new run.
    if (key) Object.assign(key, { runId: run.id, createdAt: now });
    else if (opts.idempotencyKey) em.create(IdempotencyKeyEntity, { jobId, key: opts.idempotencyKey, runId: run.id, createdAt: now });
    await em.flush();
    const view = await this.view(run, []);
    this.publishRun(view, true);
    return { run: view, created: true };
  }

  /**
   * Applies one run event: ignores an event id already applied, refuses moves backwards and events
   * of an older attempt, and records what changed (published after commit).
   * Throws NOT_FOUND for an unknown run; CONFLICT for a manual retry of a run that is not FAILED.
   */
  async apply(event: RunEvent): Promise<ApplyResult> {
    const em = this.em;
    const run = await em.findOne(RunEntity, { id: event.runId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!run) throw notFound('Run', event.runId);
    if (event.eventId) {
      const inserted = await em.execute(
        'insert into applied_events (event_id, run_id, applied_at) values (?, ?, ?) on conflict do nothing returning event_id',
        [event.eventId, run.id, this.now()],
      );
      if (inserted.length === 0) return { outcome: 'duplicate', run: await this.view(run) };
    }
    if (event.attempt !== undefined && event.attempt !== run.attempt && event.type !== 'run.log') {
      return this.ignored(run, event, `event of attempt ${event.attempt}, run is on attempt ${run.attempt}`);
    }
    switch (event.type) {
      case 'run.status':
        return this.applyStatus(run, event.payload, event.occurredAt, event);
      case 'stage.progress':
        return this.applyStage(run, event.payload, event);
      case 'run.metrics':
        return this.applyMetrics(run, event.payload, event);
      case 'run.log':
        return this.applyLogs(run, event.payload, event.attempt);
      case 'run.retry':
        return this.applyRetry(run, event.payload, event);
      case 'run.cancel':
        return this.applyCancel(run, event.payload, event);
    }
  }

  private async applyStatus(run: RunEntity, p: StatusPayload, occurredAt: string | undefined, event: RunEvent): Promise<ApplyResult> {
    const at = occurredAt ? new Date(occurredAt) : this.now();
    const side =
      (p.externalId !== undefined && p.externalId !== run.externalId) || (p.engineState !== undefined && p.engineState !== run.engineState);
    if (p.externalId !== undefined) run.externalId = p.externalId;
    if (p.engineState !== undefined) run.engineState = p.engineState;
    const t = checkTransition(run.status, p.status);
    if (!t.ok) {
      if (side) return this.commitRun(run, false);
      return this.ignored(run, event, t.reason);
    }
    this.moveTo(run, p.status, at);
    if (p.status === RunStatus.FAILED) {
      await this.fail(run, p.error ?? { message: p.message ?? 'Run failed', kind: ErrorKind.PERMANENT, details: null });
    }
    return this.commitRun(run, true);
  }

  /** Moves the current attempt to `status`, stamping its times. */
  private moveTo(run: RunEntity, status: RunStatus, at: Date) {
    run.status = status;
    const attempt = this.currentAttempt(run);
    attempt.status = status;
    if (status === RunStatus.QUEUED) run.queuedAt ??= at;
    if (status === RunStatus.RUNNING) {
      run.startedAt ??= at;
      attempt.startedAt ??= at.toISOString();
    }
    if (isTerminal(status)) {
      run.finishedAt = at;
      attempt.finishedAt = at.toISOString();
      run.leaseOwner = null;
      run.leaseExpiresAt = null;
      if (status === RunStatus.SUCCEEDED) {
        run.progress = 1;
        run.error = null;
      }
    }
    run.attempts = [...run.attempts];
  }

  private async fail(run: RunEntity, error: RunErrorView) {
    run.error = error;
    const attempt = this.currentAttempt(run);
    attempt.error = error;
    const job = await this.em.findOne(JobEntity, { id: run.jobId });
    const policy = { ...this.deps.retry };
    if (job?.schedule) policy.baseDelayMs = job.schedule.retryDelaySeconds * 1000;
    const next = afterFailure(error.kind, run.attempt, run.maxAttempts, policy);
    if (next.action === 'retry') run.nextRetryAt = new Date(this.now().getTime() + next.delayMs);
    if (next.action === 'dead-letter') run.deadLettered = true;
    run.attempts = [...run.attempts];
  }

  private async applyStage(run: RunEntity, p: StagePayload, event: RunEvent): Promise<ApplyResult> {
    if (isTerminal(run.status)) return this.ignored(run, event, `stage progress after ${run.status}`);
    const em = this.em;
    const stages = await this.stagesOf(run.id);
    let stage = stages.find((s) => s.name === p.stage);
    const now = this.now();
    if (!stage) {
      stage = em.create(StageEntity, { runId: run.id, name: p.stage, position: stages.length, updatedAt: now });
      stages.push(stage);
    }
    if (p.totalItems !== undefined) stage.totalItems = p.totalItems;
    if (p.increment) stage.completedItems += p.increment;
    if (p.failedIncrement) stage.failedItems += p.failedIncrement;
    // Absolute counts only grow within an attempt: a late, smaller count is an out-of-order event.
    if (p.completedItems !== undefined) stage.completedItems = Math.max(stage.completedItems, p.completedItems);
    if (p.failedItems !== undefined) stage.failedItems = Math.max(stage.failedItems, p.failedItems);
    stage.status = nextStageStatus(stage.status, p.status, stage);
    if (stage.status !== StageStatus.PENDING) stage.startedAt ??= now;
    if ([StageStatus.COMPLETED, StageStatus.FAILED, StageStatus.SKIPPED].includes(stage.status)) stage.finishedAt ??= now;
    if (p.message !== undefined) stage.message = p.message;
    stage.updatedAt = now;
    run.progress = runProgress(
      run.status,
      stages.map((s) => ({ status: s.status, progress: stageProgress(s.status, s) })),
    );
    run.lastProgressAt = now;
    const result = await this.commitRun(run, false, stages);
    this.publications.push({ topic: Topic.RUN_STAGES, id: run.id, payload: toStageView(stage) });
    return result;
  }

  private async applyMetrics(run: RunEntity, p: MetricsPayload, event: RunEvent): Promise<ApplyResult> {
    if (isTerminal(run.status)) return this.ignored(run, event, `metrics after ${run.status}`);
    const now = this.now();
    const ts = event.occurredAt ? new Date(event.occurredAt) : now;
    const sample: MetricsView = {
      runId: run.id,
      timestamp: ts.toISOString(),
      recordsProcessed: p.recordsProcessed,
      recordsFailed: p.recordsFailed,
      throughputRps: p.throughputRps,
      bytesProcessed: p.bytesProcessed,
      activeWorkers: p.activeWorkers,
      cpuUtilization: p.cpuUtilization ?? null,
      memoryUtilization: p.memoryUtilization ?? null,
    };
    this.em.create(MetricSampleEntity, { ...sample, attempt: run.attempt, timestamp: ts } as never);
    run.metrics = sample;
    run.lastProgressAt = now;
    const result = await this.commitRun(run, false);
    this.publications.push({ topic: Topic.RUN_METRICS, id: run.id, payload: sample });
    return result;
  }

  private async applyLogs(run: RunEntity, p: LogPayload, attempt: number | undefined): Promise<ApplyResult> {
    const now = this.now();
    const first = run.logSeq + 1;
    run.logSeq += p.lines.length;
    const rows = p.lines.map((l, i) => ({
      runId: run.id,
      seq: first + i,
      attempt: attempt ?? run.attempt,
      timestamp: l.timestamp ? new Date(l.timestamp) : now,
      level: l.level,
      message: l.message,
      source: l.source ?? null,
    }));
    for (let i = 0; i < rows.length; i += LOG_INSERT_CHUNK) {
      await this.em.insertMany(LogLineEntity, rows.slice(i, i + LOG_INSERT_CHUNK) as LogLineEntity[]);
    }
    run.lastProgressAt = now;
    run.updatedAt = now;
    await this.em.flush();
    this.publications.push({
      topic: Topic.RUN_LOGS,
      id: run.id,
      payload: { runId: run.id, lines: rows.map((r) => toLogLineView(r as LogLineEntity)) },
    });
    // Log lines do not change what `runUpdated` shows: no run message for them.
    return { outcome: 'applied', run: await this.view(run) };
  }

  private async applyRetry(run: RunEntity, p: RetryPayload, event: RunEvent): Promise<ApplyResult> {
    if (run.status !== RunStatus.FAILED) {
      if (p.manual) throw conflict(`Only a FAILED run can be retried; run ${run.id} is ${run.status}`);
      return this.ignored(run, event, `automatic retry of a ${run.status} run`);
    }
    if (!p.manual && (!run.nextRetryAt || run.nextRetryAt.getTime() > this.now().getTime())) {
      return this.ignored(run, event, 'no automatic retry is due');
    }
    const now = this.now();
    const status = run.backend === ExecutionBackend.LOCAL ? RunStatus.QUEUED : RunStatus.PENDING;
    run.attempt += 1;
    run.status = status;
    run.attempts = [...run.attempts, { attempt: run.attempt, status, startedAt: null, finishedAt: null, error: null }];
    Object.assign(run, {
      error: null,
      deadLettered: false,
      nextRetryAt: null,
      progress: 0,
      metrics: null,
      engineState: null,
      externalId: null,
      startedAt: null,
      finishedAt: null,
      queuedAt: status === RunStatus.QUEUED ? now : null,
      leaseOwner: null,
      leaseExpiresAt: null,
    });
    // Stages belong to an attempt: the new one starts from nothing.
    await this.em.nativeDelete(StageEntity, { runId: run.id });
    return this.commitRun(run, true, []);
  }

  private async applyCancel(run: RunEntity, p: CancelPayload, event: RunEvent): Promise<ApplyResult> {
    const now = this.now();
    if (run.status === RunStatus.FAILED && run.nextRetryAt) {
      // Stopping a run that waits for its next attempt cancels that attempt.
      run.nextRetryAt = null;
      return this.commitRun(run, true);
    }
    if (isTerminal(run.status)) return this.ignored(run, event, `already ${run.status}`);
    const notStarted = (run.status === RunStatus.PENDING || run.status === RunStatus.QUEUED) && !run.leaseOwner && !run.externalId;
    if (p.force || notStarted) {
      this.moveTo(run, RunStatus.CANCELLED, now);
      run.error = null;
      run.nextRetryAt = null;
    } else if (run.status !== RunStatus.CANCELLING) {
      this.moveTo(run, RunStatus.CANCELLING, now);
    } else {
      return this.ignored(run, event, 'already CANCELLING');
    }
    return this.commitRun(run, true);
  }

  private currentAttempt(run: RunEntity): RunAttemptView {
    let a = run.attempts.find((x) => x.attempt === run.attempt);
    if (!a) {
      a = { attempt: run.attempt, status: run.status, startedAt: null, finishedAt: null, error: null };
      run.attempts.push(a);
    }
    return a;
  }

  private async commitRun(run: RunEntity, statusChanged: boolean, stages?: StageEntity[]): Promise<ApplyResult> {
    run.version += 1;
    run.updatedAt = this.now();
    if (statusChanged) {
      const job = await this.em.findOne(JobEntity, { id: run.jobId });
      if (job && job.latestRunId === run.id) job.status = jobStatusFor(run.status);
    }
    await this.em.flush();
    const view = await this.view(run, stages);
    this.publishRun(view, statusChanged);
    return { outcome: 'applied', run: view };
  }

  private publishRun(view: RunView, statusChanged: boolean) {
    this.publications.push({ topic: Topic.RUN, id: view.id, payload: view }, { topic: Topic.JOB_RUNS, id: view.jobId, payload: view });
    if (statusChanged) {
      this.publications.push(
        { topic: Topic.RUN_STATUS, payload: view },
        { topic: Topic.JOB_RUN_STATUS, id: view.jobId, payload: view },
        { topic: Topic.BACKEND_RUN_STATUS, id: view.backend, payload: view },
      );
    }
  }

  private async ignored(run: RunEntity, event: RunEvent, reason: string): Promise<ApplyResult> {
    this.deps.logger.info(
      { runId: run.id, eventId: event.eventId, type: event.type, producer: event.producer, reason },
      'run event ignored',
    );
    return { outcome: 'ignored', reason, run: await this.view(run) };
  }

  async view(run: RunEntity, stages?: StageEntity[]): Promise<RunView> {
    if (stages) this.stagesByRun.set(run.id, stages);
    return toRunView(run, stages ?? (await this.stagesOf(run.id)));
  }

  private async stagesOf(runId: string): Promise<StageEntity[]> {
    let stages = this.stagesByRun.get(runId);
    if (!stages) this.stagesByRun.set(runId, (stages = await this.em.find(StageEntity, { runId })));
    return stages;
  }
}

/**
 * The one place that changes runs. Resolvers, workers and consumers call it; none of them writes
 * run state or publishes run events themselves.
 */
export class RunEventsService {
  /** Runs finished before this had their logs and samples pruned completely by a pass of this process. */
  private prunedBefore: Date | null = null;

  constructor(private readonly deps: RunEventsDeps) {}

  /**
   * Runs `fn` in one transaction; after it commits, publishes everything it produced. When the bus
   * is down the change is still durable; subscribers catch up from their snapshot on reconnect.
   */
  async transact<T>(fn: (tx: RunTx) => Promise<T>): Promise<T> {
    const em = this.deps.orm.em.fork() as EntityManager;
    let tx!: RunTx;
    const result = await em.transactional(async (tem) => {
      tx = new RunTx(tem as EntityManager, this.deps);
      return fn(tx);
    });
    await this.publish(tx.publications);
    return result;
  }

  async publish(publications: Publication[]): Promise<void> {
    if (publications.length === 0) return;
    try {
      await this.deps.bus.publishAll(publications);
    } catch (err) {
      this.deps.logger.error({ err, count: publications.length }, 'publishing run events failed after commit');
    }
  }

  /** Applies one event in its own transaction. See {@link RunTx.apply}. */
  apply(event: RunEvent): Promise<ApplyResult> {
    return this.transact((tx) => tx.apply(event));
  }

  createRun(jobId: string, trigger: RunTrigger, opts: { idempotencyKey?: string } = {}) {
    return this.transact((tx) => tx.createRun(jobId, trigger, opts));
  }

  /**
   * Deletes dedupe records and idempotency keys past their time, and the log lines and metric
   * samples of runs finished longer ago than `logRetentionMs` (at most {@link PRUNE_BATCH} rows of
   * each per call, so one pass never holds locks for long). Returns how many rows went.
   */
  async prune(): Promise<number> {
    const em = this.deps.orm.em.fork();
    const now = this.deps.now?.().getTime() ?? Date.now();
    const a = await em.nativeDelete(AppliedEventEntity, { appliedAt: { $lt: new Date(now - APPLIED_EVENT_TTL_MS) } });
    const b = await em.nativeDelete(IdempotencyKeyEntity, { createdAt: { $lt: new Date(now - IDEMPOTENCY_TTL_MS) } });
    let c = 0;
    if (this.deps.logRetentionMs) {
      const cutoff = new Date(now - this.deps.logRetentionMs);
      // Finished for good: terminal, and no automatic retry pending (that would make it active again).
      // Runs finished before an earlier complete pass were pruned then: look only at the new ones.
      const from = this.prunedBefore;
      const expired = `select id from runs where status in ${TERMINAL_SQL} and next_retry_at is null and finished_at < ?${from ? ' and finished_at >= ?' : ''}`;
      let complete = true;
      for (const table of ['run_logs', 'run_metric_samples']) {
        const rows = await em.execute(
          `delete from ${table} where ctid = any(array(select ctid from ${table} where run_id in (${expired}) limit ${PRUNE_BATCH})) returning 1`,
          from ? [cutoff, from] : [cutoff],
        );
        c += rows.length;
        if (rows.length === PRUNE_BATCH) complete = false;
      }
      if (complete) this.prunedBefore = cutoff;
    }
    return a + b + c;
  }
}

export { AppError, ErrorCode };
