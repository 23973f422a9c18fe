/**
 * Applying run events to a run in memory: the rules of the one writer, pure (no I/O), so that a
 * batch of events of many runs is computed here and then written with a few set-based statements
 * (run-store.ts). Every rule of a run's life lives here:
 *
 * - within an attempt a run only moves forward, and a terminal status is final for the attempt;
 * - events of an older attempt change nothing (log lines excepted: they are history);
 * - progress never moves backwards within an attempt, reads 1 only once SUCCEEDED, and stays
 *   below 1 while work remains; an estimated stage total corrected upwards does not make it regress;
 * - `lastProgressAt` moves only when a counter moves (stage counts, records processed or failed);
 * - a run that ends leaves no stage RUNNING;
 * - liveness (`aliveUntil`) follows the backend's rule; stall detection (`stallAt`,
 *   `stalledSince`) follows the counters.
 */
import { STALL_POLICY_ACTOR } from '../auth/actors';
import { ErrorKind, ExecutionBackend, JobStatus, RunStatus, StageStatus, StallAction, isTerminal } from '../domain';
import type { MetricsView, RunErrorView } from '../domain';
import { conflict } from '../errors';
import type { CoreEvent } from './core-events';
import type { LogRow, RunRow, StageRow } from './run-rows';
import type { CancelPayload, MetricsPayload, StagePayload, StatusPayload } from './run-event';
import { afterFailure, checkTransition, jobStatusFor, nextStageStatus, type RetryPolicy } from './run-state';

/**
 * How a backend's runs are known to be alive:
 * - `lease`: the executor holding the run renews a lease (LOCAL); a queued run waits and is never stuck;
 * - `heartbeat`: the worker reports (any event, or `run.heartbeat`) at least every stuck threshold (KAFKA);
 * - `engine-poll`: a poller reads the engine's state at least every stuck threshold (SPARK).
 */
export type Liveness = 'lease' | 'heartbeat' | 'engine-poll';

/** What the core needs to know of a backend to apply its runs' events. */
export interface BackendPolicy {
  liveness: Liveness;
  /**
   * How stage progress makes run progress: `mean` for stages that run one after the other (a Spark
   * job's), `slowest` for stages that work through the same items in a pipeline (the ingestion
   * engine's extract → transform → load: the run is as far as its last stage).
   */
  progress: 'mean' | 'slowest';
  /**
   * The stages its runs report, when known in advance (the ingestion engine's): one not reported
   * yet counts as not started, so early progress does not overshoot (it could never come back down).
   */
  stages?: readonly string[];
  /** The status a new run or attempt starts in: QUEUED in jobwire's own queue, PENDING until the engine accepts it. */
  initialStatus: RunStatus.QUEUED | RunStatus.PENDING;
}

/** The world a batch is applied in. */
export interface ApplyContext {
  now: Date;
  retry: RetryPolicy;
  /** A run of a `heartbeat` or `engine-poll` backend is stuck after this long without a sign of life. */
  stuckThresholdMs: number;
  policy(kind: ExecutionBackend): BackendPolicy;
  random?: () => number;
}

/** A metric sample to store. */
export interface SampleRow extends MetricsView {
  attempt: number;
}

/** What the job of a run contributes to applying its events (read with the run, under its lock). */
export interface RunJobInfo {
  /** `schedule.retryDelaySeconds` when the job has a schedule: the back-off base of its retries. */
  retryDelaySeconds: number | null;
  /** Whether this run is the job's latest (then the job's status follows it). */
  isLatest: boolean;
  onStall: StallAction;
}

/** One run while a batch is applied to it, with what changed. */
export interface RunState {
  row: RunRow;
  stages: StageRow[];
  job: RunJobInfo;
  /** Something a client sees changed: the version moves and `runUpdated` is told. */
  changed: boolean;
  statusChanged: boolean;
  /** The row must be written (a lease or deadline moved, even when nothing visible did). */
  written: boolean;
  /** A new attempt started (or one was handed back): the stored stages go before the new ones are written. */
  stagesReset: boolean;
  dirtyStages: Set<string>;
  logs: LogRow[];
  samples: SampleRow[];
  /** The run moved to CANCELLING by a rule of the core (stall STOP): its backend must be asked to stop it. */
  cancelRequested: boolean;
}

export function newRunState(row: RunRow, stages: StageRow[], job: RunJobInfo): RunState {
  return {
    row,
    stages,
    job,
    changed: false,
    statusChanged: false,
    written: false,
    stagesReset: false,
    dirtyStages: new Set(),
    logs: [],
    samples: [],
    cancelRequested: false,
  };
}

/** The outcome of one event. */
export type EventOutcome = { outcome: 'applied' } | { outcome: 'ignored'; reason: string };

const APPLIED: EventOutcome = { outcome: 'applied' };
const ignored = (reason: string): EventOutcome => ({ outcome: 'ignored', reason });

/** Highest progress a run reports before it has SUCCEEDED. */
export const MAX_UNFINISHED_PROGRESS = 0.99;

const executing = (s: RunStatus) => s === RunStatus.RUNNING || s === RunStatus.CANCELLING;
const addMs = (d: Date, ms: number) => new Date(d.getTime() + ms);

/**
 * Applies one event to `s`. Throws CONFLICT only for a manual retry of a run that is not FAILED
 * (before changing anything); every other refusal is an `ignored` outcome with its reason.
 */
export function applyEvent(s: RunState, event: CoreEvent, ctx: ApplyContext): EventOutcome {
  const run = s.row;
  if (event.attempt !== undefined && event.attempt !== run.attempt && event.type !== 'run.log') {
    return ignored(`event of attempt ${event.attempt}, run is on attempt ${run.attempt}`);
  }
  switch (event.type) {
    case 'run.status':
      return applyStatus(s, event.payload, event.occurredAt ? new Date(event.occurredAt) : ctx.now, ctx);
    case 'stage.progress':
      return applyStage(s, event.payload, ctx);
    case 'run.metrics':
      return applyMetrics(s, event.payload, event.occurredAt ? new Date(event.occurredAt) : ctx.now, ctx);
    case 'run.log':
      return applyLogs(s, event, ctx);
    case 'run.heartbeat':
      if (isTerminal(run.status)) return ignored(`heartbeat after ${run.status}`);
      signOfLife(s, ctx);
      return APPLIED;
    case 'run.retry':
      return applyRetry(s, event.payload.manual, event.payload.actor ?? null, ctx);
    case 'run.cancel':
      return applyCancel(s, event.payload, ctx);
    case 'run.claim': {
      if (run.status !== RunStatus.QUEUED || run.leaseOwner) return ignored(`not claimable (${run.status})`);
      run.leaseOwner = event.payload.owner;
      run.leaseExpiresAt = addMs(ctx.now, event.payload.leaseMs);
      return applyStatus(s, { status: RunStatus.RUNNING }, ctx.now, ctx);
    }
    case 'run.lease': {
      if (run.leaseOwner !== event.payload.owner || !executing(run.status)) return ignored('lease not held');
      run.leaseExpiresAt = addMs(ctx.now, event.payload.leaseMs);
      run.aliveUntil = run.leaseExpiresAt;
      s.written = true;
      return APPLIED;
    }
    case 'run.requeue':
      return applyRequeue(s, event.payload.owner, ctx);
    case 'run.lost': {
      if (isTerminal(run.status)) return ignored(`already ${run.status}`);
      if (!run.aliveUntil || run.aliveUntil.getTime() > Date.parse(event.payload.seenAliveUntil)) return ignored('alive again');
      // A run that was being stopped and whose worker is gone is simply stopped.
      if (run.status === RunStatus.CANCELLING) {
        return applyStatus(
          s,
          { status: RunStatus.CANCELLED, message: `stopped: ${event.payload.details ?? event.payload.message}` },
          ctx.now,
          ctx,
        );
      }
      const error = { message: event.payload.message, kind: ErrorKind.TRANSIENT, details: event.payload.details ?? null };
      return applyStatus(s, { status: RunStatus.FAILED, message: event.payload.message, error }, ctx.now, ctx);
    }
    case 'run.alive': {
      if (isTerminal(run.status)) return ignored(`already ${run.status}`);
      if (!run.aliveUntil || run.aliveUntil.getTime() > Date.parse(event.payload.seenAliveUntil)) return ignored('alive again');
      run.aliveUntil = addMs(ctx.now, ctx.stuckThresholdMs);
      s.written = true;
      return APPLIED;
    }
    case 'run.stall':
      return applyStall(s, ctx);
  }
}

/**
 * A sign of life from the run's engine or worker: for `heartbeat` and `engine-poll` backends the
 * liveness deadline moves on; a leased run's deadline is its lease.
 */
function signOfLife(s: RunState, ctx: ApplyContext) {
  const run = s.row;
  const before = run.aliveUntil?.getTime() ?? null;
  if (isTerminal(run.status)) run.aliveUntil = null;
  else if (ctx.policy(run.backend).liveness === 'lease') {
    // Queued runs wait for capacity and are never stuck; an executing run without a lease (moved
    // on by something other than an executor) has nobody renewing it: due at once.
    run.aliveUntil = executing(run.status) ? (run.leaseExpiresAt ?? ctx.now) : null;
  } else run.aliveUntil = addMs(ctx.now, ctx.stuckThresholdMs);
  if ((run.aliveUntil?.getTime() ?? null) !== before) s.written = true;
}

function markChanged(s: RunState, ctx: ApplyContext) {
  s.changed = true;
  s.written = true;
  s.row.updatedAt = ctx.now;
}

function applyStatus(s: RunState, p: StatusPayload, at: Date, ctx: ApplyContext): EventOutcome {
  const run = s.row;
  const side =
    (p.externalId !== undefined && p.externalId !== run.externalId) || (p.engineState !== undefined && p.engineState !== run.engineState);
  if (p.externalId !== undefined) run.externalId = p.externalId;
  if (p.engineState !== undefined) run.engineState = p.engineState;
  const t = checkTransition(run.status, p.status);
  if (!t.ok) {
    if (!isTerminal(run.status)) signOfLife(s, ctx);
    if (side) {
      markChanged(s, ctx);
      return APPLIED;
    }
    return ignored(t.reason);
  }
  moveTo(s, p.status, at, ctx);
  if (p.status === RunStatus.FAILED)
    fail(s, p.error ?? { message: p.message ?? 'Run failed', kind: ErrorKind.PERMANENT, details: null }, ctx);
  return APPLIED;
}

/** Moves the current attempt to `status`, stamping its times, ending its stages when it ends. */
function moveTo(s: RunState, status: RunStatus, at: Date, ctx: ApplyContext) {
  const run = s.row;
  run.status = status;
  const attempt = currentAttempt(s);
  attempt.status = status;
  if (status === RunStatus.QUEUED) run.queuedAt ??= at;
  if (status === RunStatus.RUNNING) {
    run.startedAt ??= at;
    attempt.startedAt ??= at.toISOString();
    run.stallAt = addMs(ctx.now, run.stallTimeoutS * 1000);
  }
  if (status !== RunStatus.RUNNING) run.stallAt = null;
  if (isTerminal(status)) {
    run.stalledSince = null;
    run.finishedAt = at;
    attempt.finishedAt = at.toISOString();
    run.leaseOwner = null;
    run.leaseExpiresAt = null;
    endStages(s, status, ctx);
    if (status === RunStatus.SUCCEEDED) {
      run.progress = 1;
      run.error = null;
    }
  }
  run.attempts = [...run.attempts];
  s.statusChanged = true;
  markChanged(s, ctx);
  signOfLife(s, ctx);
}

/** A finished run leaves no stage RUNNING or PENDING: done when it succeeded, failed or skipped otherwise. */
function endStages(s: RunState, status: RunStatus, ctx: ApplyContext) {
  for (const stage of s.stages) {
    if (stage.status !== StageStatus.PENDING && stage.status !== StageStatus.RUNNING) continue;
    if (status === RunStatus.SUCCEEDED) {
      stage.status = StageStatus.COMPLETED;
      stage.progress = 1;
    } else if (status === RunStatus.FAILED && stage.status === StageStatus.RUNNING) {
      stage.status = StageStatus.FAILED;
    } else {
      stage.status = StageStatus.SKIPPED;
      stage.message ??= status === RunStatus.CANCELLED ? 'run cancelled' : 'run failed';
    }
    stage.finishedAt ??= ctx.now;
    stage.updatedAt = ctx.now;
    s.dirtyStages.add(stage.name);
  }
}

function fail(s: RunState, error: RunErrorView, ctx: ApplyContext) {
  const run = s.row;
  run.error = error;
  currentAttempt(s).error = error;
  const policy = { ...ctx.retry };
  if (s.job.retryDelaySeconds !== null) policy.baseDelayMs = s.job.retryDelaySeconds * 1000;
  const next = afterFailure(error.kind, run.attempt, run.maxAttempts, policy, ctx.random);
  if (next.action === 'retry') run.nextRetryAt = addMs(ctx.now, next.delayMs);
  if (next.action === 'dead-letter') run.deadLettered = true;
  run.attempts = [...run.attempts];
}

/** Stage progress: never backwards, 1 only once COMPLETED, below 1 while items remain. */
function stageProgressOf(stage: StageRow): number {
  if (stage.status === StageStatus.COMPLETED) return 1;
  if (stage.totalItems <= 0) return stage.progress;
  const done = (stage.completedItems + stage.failedItems) / stage.totalItems;
  return Math.max(stage.progress, Math.min(MAX_UNFINISHED_PROGRESS, done));
}

/** Run progress from its stages' (the backend's rule), never backwards, 1 only once SUCCEEDED. */
function recomputeProgress(s: RunState, ctx: ApplyContext) {
  const run = s.row;
  if (run.status === RunStatus.SUCCEEDED) run.progress = 1;
  if (isTerminal(run.status) || s.stages.length === 0) return;
  const policy = ctx.policy(run.backend);
  const each = s.stages.map((st) => (st.status === StageStatus.SKIPPED ? 1 : st.progress));
  for (const name of policy.stages ?? []) if (!s.stages.some((st) => st.name === name)) each.push(0);
  const p = policy.progress === 'slowest' ? Math.min(...each) : each.reduce((a, b) => a + b, 0) / each.length;
  run.progress = Math.max(run.progress, Math.min(MAX_UNFINISHED_PROGRESS, p));
}

/** A counter moved: progress time, and the stall clock starts over (a stalled run is no longer). */
function counterMoved(s: RunState, ctx: ApplyContext) {
  const run = s.row;
  run.lastProgressAt = ctx.now;
  if (run.status === RunStatus.RUNNING) run.stallAt = addMs(ctx.now, run.stallTimeoutS * 1000);
  run.stalledSince = null;
}

function applyStage(s: RunState, p: StagePayload, ctx: ApplyContext): EventOutcome {
  const run = s.row;
  let stage = s.stages.find((x) => x.name === p.stage);
  if (isTerminal(run.status)) {
    // An engine's last counts may land after the run's end (Spark: the listener's stage-completed
    // event behind the poller's FINISHED): absolute counts of a stage it already reported still
    // count, so a SUCCEEDED run does not show a stage stuck short of its end. Nothing else moves.
    if (run.status !== RunStatus.SUCCEEDED || !stage || p.increment || p.failedIncrement)
      return ignored(`stage progress after ${run.status}`);
    return lateStageCounts(s, stage, p, ctx);
  }
  if (!stage) {
    stage = {
      runId: run.id,
      name: p.stage,
      position: s.stages.length,
      status: StageStatus.PENDING,
      totalItems: 0,
      completedItems: 0,
      failedItems: 0,
      totalIsEstimate: false,
      progress: 0,
      message: null,
      startedAt: null,
      finishedAt: null,
      updatedAt: ctx.now,
      eventSeq: 0,
    };
    s.stages.push(stage);
  }
  const before = stage.completedItems + stage.failedItems;
  if (p.totalItems !== undefined) {
    stage.totalItems = p.totalItems;
    stage.totalIsEstimate = p.totalIsEstimate ?? false;
  } else if (p.totalIsEstimate !== undefined) stage.totalIsEstimate = p.totalIsEstimate;
  if (p.increment) stage.completedItems += p.increment;
  if (p.failedIncrement) stage.failedItems += p.failedIncrement;
  // Absolute counts only grow within an attempt: a late, smaller count is an out-of-order event.
  if (p.completedItems !== undefined) stage.completedItems = Math.max(stage.completedItems, p.completedItems);
  if (p.failedItems !== undefined) stage.failedItems = Math.max(stage.failedItems, p.failedItems);
  stage.status = nextStageStatus(stage.status, p.status, stage);
  if (stage.status !== StageStatus.PENDING) stage.startedAt ??= ctx.now;
  if (stage.status === StageStatus.COMPLETED || stage.status === StageStatus.FAILED || stage.status === StageStatus.SKIPPED) {
    stage.finishedAt ??= ctx.now;
  }
  if (p.message !== undefined) stage.message = p.message;
  stage.progress = stageProgressOf(stage);
  stage.updatedAt = ctx.now;
  s.dirtyStages.add(stage.name);
  if (stage.completedItems + stage.failedItems > before) counterMoved(s, ctx);
  recomputeProgress(s, ctx);
  markChanged(s, ctx);
  signOfLife(s, ctx);
  return APPLIED;
}

/** A SUCCEEDED run's stage, its final absolute counts and status applied (never lower, never back to RUNNING). */
function lateStageCounts(s: RunState, stage: StageRow, p: StagePayload, ctx: ApplyContext): EventOutcome {
  const before = JSON.stringify([stage.completedItems, stage.failedItems, stage.totalItems, stage.status]);
  if (p.totalItems !== undefined && !stage.totalIsEstimate) stage.totalItems = Math.max(stage.totalItems, p.totalItems);
  if (p.completedItems !== undefined) stage.completedItems = Math.max(stage.completedItems, p.completedItems);
  if (p.failedItems !== undefined) stage.failedItems = Math.max(stage.failedItems, p.failedItems);
  if (p.status === StageStatus.COMPLETED || p.status === StageStatus.FAILED || p.status === StageStatus.SKIPPED) {
    stage.status = p.status;
    stage.finishedAt ??= ctx.now;
  }
  if (JSON.stringify([stage.completedItems, stage.failedItems, stage.totalItems, stage.status]) === before) return ignored('nothing new');
  stage.progress = stageProgressOf(stage);
  stage.updatedAt = ctx.now;
  s.dirtyStages.add(stage.name);
  markChanged(s, ctx);
  return APPLIED;
}

function applyMetrics(s: RunState, p: MetricsPayload, at: Date, ctx: ApplyContext): EventOutcome {
  const run = s.row;
  if (isTerminal(run.status)) return ignored(`metrics after ${run.status}`);
  const sample: MetricsView = {
    runId: run.id,
    timestamp: at.toISOString(),
    recordsProcessed: p.recordsProcessed,
    recordsFailed: p.recordsFailed,
    throughputRps: p.throughputRps,
    bytesProcessed: p.bytesProcessed,
    activeWorkers: p.activeWorkers,
    cpuUtilization: p.cpuUtilization ?? null,
    memoryUtilization: p.memoryUtilization ?? null,
  };
  const prev = run.metrics;
  if (!prev || sample.recordsProcessed > prev.recordsProcessed || sample.recordsFailed > prev.recordsFailed) counterMoved(s, ctx);
  s.samples.push({ ...sample, attempt: run.attempt });
  run.metrics = sample;
  markChanged(s, ctx);
  signOfLife(s, ctx);
  return APPLIED;
}

function applyLogs(s: RunState, event: Extract<CoreEvent, { type: 'run.log' }>, ctx: ApplyContext): EventOutcome {
  const run = s.row;
  for (const l of event.payload.lines) {
    run.logSeq += 1;
    s.logs.push({
      runId: run.id,
      seq: run.logSeq,
      attempt: event.attempt ?? run.attempt,
      timestamp: l.timestamp ? new Date(l.timestamp) : ctx.now,
      level: l.level,
      message: l.message,
      source: l.source ?? null,
      eventSeq: 0,
    });
  }
  // Log lines are history, not a change of what `runUpdated` shows: the row is written (its
  // sequence moved), the version is not.
  s.written = true;
  if (event.attempt === undefined || event.attempt === run.attempt) signOfLife(s, ctx);
  return APPLIED;
}

function applyRetry(s: RunState, manual: boolean, actor: string | null, ctx: ApplyContext): EventOutcome {
  const run = s.row;
  if (run.status !== RunStatus.FAILED) {
    if (manual) throw conflict(`Only a FAILED run can be retried; run ${run.id} is ${run.status}`);
    return ignored(`automatic retry of a ${run.status} run`);
  }
  if (!manual && (!run.nextRetryAt || run.nextRetryAt.getTime() > ctx.now.getTime())) return ignored('no automatic retry is due');
  const status = ctx.policy(run.backend).initialStatus;
  run.attempt += 1;
  run.attempts = [...run.attempts, { attempt: run.attempt, status, startedAt: null, finishedAt: null, error: null, triggeredBy: actor }];
  Object.assign(run, {
    status,
    error: null,
    deadLettered: false,
    stoppedBy: null,
    nextRetryAt: null,
    engineState: null,
    externalId: null,
    startedAt: null,
    finishedAt: null,
    queuedAt: status === RunStatus.QUEUED ? ctx.now : null,
    leaseOwner: null,
    leaseExpiresAt: null,
  });
  restartAttempt(s);
  s.statusChanged = true;
  markChanged(s, ctx);
  signOfLife(s, ctx);
  return APPLIED;
}

/** The attempt starts from nothing: no stages, no progress, no counters. */
function restartAttempt(s: RunState) {
  Object.assign(s.row, { progress: 0, metrics: null, lastProgressAt: null, stalledSince: null, stallAt: null });
  s.stages = [];
  s.dirtyStages.clear();
  s.stagesReset = true;
}

function applyRequeue(s: RunState, owner: string, ctx: ApplyContext): EventOutcome {
  const run = s.row;
  if (run.status !== RunStatus.RUNNING || run.leaseOwner !== owner) return ignored(`not RUNNING under ${owner}`);
  run.status = RunStatus.QUEUED;
  const attempt = currentAttempt(s);
  Object.assign(attempt, { status: RunStatus.QUEUED, startedAt: null });
  run.attempts = [...run.attempts];
  // First in line again: it keeps its place in the queue.
  Object.assign(run, { startedAt: null, leaseOwner: null, leaseExpiresAt: null, engineState: null });
  restartAttempt(s);
  s.statusChanged = true;
  markChanged(s, ctx);
  signOfLife(s, ctx);
  return APPLIED;
}

function applyCancel(s: RunState, p: CancelPayload, ctx: ApplyContext): EventOutcome {
  const run = s.row;
  if (run.status === RunStatus.FAILED && run.nextRetryAt) {
    // Stopping a run that waits for its next attempt cancels that attempt.
    run.nextRetryAt = null;
    run.stoppedBy = p.actor ?? null;
    markChanged(s, ctx);
    return APPLIED;
  }
  if (isTerminal(run.status)) {
    if (p.refuseFinished) throw conflict(`run ${run.id} already ${run.status}`);
    return ignored(`already ${run.status}`);
  }
  const notStarted = (run.status === RunStatus.PENDING || run.status === RunStatus.QUEUED) && !run.leaseOwner && !run.externalId;
  if (p.force || notStarted) {
    moveTo(s, RunStatus.CANCELLED, ctx.now, ctx);
    run.error = null;
    run.nextRetryAt = null;
  } else if (run.status !== RunStatus.CANCELLING) {
    moveTo(s, RunStatus.CANCELLING, ctx.now, ctx);
  } else {
    return ignored('already CANCELLING');
  }
  // A forced stop of a run already CANCELLING keeps who asked first.
  run.stoppedBy ??= p.actor ?? null;
  return APPLIED;
}

function applyStall(s: RunState, ctx: ApplyContext): EventOutcome {
  const run = s.row;
  if (run.status !== RunStatus.RUNNING || run.stalledSince || !run.stallAt) return ignored('not stalling');
  if (run.stallAt.getTime() > ctx.now.getTime()) return ignored('a counter moved since');
  run.stalledSince = run.stallAt;
  run.stallAt = null;
  markChanged(s, ctx);
  const quiet = `no counter moved for ${run.stallTimeoutS} s`;
  if (s.job.onStall === StallAction.RETRY) {
    const error = { message: `stalled: ${quiet}`, kind: ErrorKind.TRANSIENT, details: null };
    return applyStatus(s, { status: RunStatus.FAILED, error }, ctx.now, ctx);
  }
  if (s.job.onStall === StallAction.STOP) {
    moveTo(s, RunStatus.CANCELLING, ctx.now, ctx);
    run.stoppedBy = STALL_POLICY_ACTOR;
    s.cancelRequested = true;
  }
  return APPLIED;
}

function currentAttempt(s: RunState) {
  const run = s.row;
  let a = run.attempts.find((x) => x.attempt === run.attempt);
  if (!a) {
    a = { attempt: run.attempt, status: run.status, startedAt: null, finishedAt: null, error: null };
    run.attempts.push(a);
  }
  return a;
}

/**
 * Hands out the `runEvents` cursors of what the batch changed in `s`, after every event of the
 * batch was applied, one per message the writer publishes, in the order a subscriber gets them:
 * each log line, then (when anything of the run a client sees changed) the run's state, its
 * metrics (when a sample came) and each changed stage. So a run message covers the cursors from its
 * `stateSeq` up (src/live/run-events-stream.ts relies on this layout), and every cursor has a message.
 */
export function assignCursors(s: RunState): void {
  const run = s.row;
  for (const line of s.logs) line.eventSeq = ++run.eventSeq;
  if (!s.changed && s.dirtyStages.size === 0) return;
  run.stateSeq = ++run.eventSeq;
  if (s.samples.length && run.metrics) run.metricsSeq = ++run.eventSeq;
  // A new attempt starts without metrics: there is no sample to point at.
  if (!run.metrics) run.metricsSeq = 0;
  for (const stage of s.stages) if (s.dirtyStages.has(stage.name)) stage.eventSeq = ++run.eventSeq;
}

/** The job's status after the batch, when the run is the job's latest and its status moved. */
export function jobStatusAfter(s: RunState): JobStatus | null {
  return s.statusChanged && s.job.isLatest ? jobStatusFor(s.row.status) : null;
}

/** The stages of the ingestion engine (LOCAL, and the shipped KAFKA worker), in the order rows go through them. */
export const ENGINE_STAGES: readonly string[] = ['extract', 'transform', 'load'];

/** Policies of the backends whose policy is not known to a caller: the ones of jobwire's own backends. */
export const DEFAULT_POLICIES: Record<ExecutionBackend, BackendPolicy> = {
  [ExecutionBackend.LOCAL]: { liveness: 'lease', initialStatus: RunStatus.QUEUED, progress: 'slowest', stages: ENGINE_STAGES },
  [ExecutionBackend.SPARK]: { liveness: 'engine-poll', initialStatus: RunStatus.PENDING, progress: 'mean' },
  [ExecutionBackend.KAFKA]: { liveness: 'heartbeat', initialStatus: RunStatus.PENDING, progress: 'slowest', stages: ENGINE_STAGES },
};
