/**
 * Runs, stages and log lines as rows: what the SQL of src/runs reads and writes, and the views
 * clients see, made straight from them (no ORM entity in between). Column lists are written once
 * here so every statement reads a run the same way.
 */
import type {
  ExecutionBackend,
  LogLevel,
  LogLineView,
  MetricsView,
  RunAttemptView,
  RunErrorView,
  RunStatus,
  RunTrigger,
  RunView,
  StageStatus,
  StageView,
} from '../domain';

/** A `runs` row. Dates are `Date`s, JSON columns parsed. */
export interface RunRow {
  id: string;
  jobId: string;
  number: number;
  attempt: number;
  maxAttempts: number;
  trigger: RunTrigger;
  status: RunStatus;
  backend: ExecutionBackend;
  externalId: string | null;
  engineState: string | null;
  lastProgressAt: Date | null;
  stalledSince: Date | null;
  stallTimeoutS: number;
  progress: number;
  metrics: MetricsView | null;
  error: RunErrorView | null;
  attempts: RunAttemptView[];
  deadLettered: boolean;
  /** Who stopped the run (audit); null when nobody did. */
  stoppedBy: string | null;
  nextRetryAt: Date | null;
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  aliveUntil: Date | null;
  stallAt: Date | null;
  logSeq: number;
  /** Last `runEvents` cursor handed out; `stateSeq` the cursor of this state, `metricsSeq` of `metrics`. */
  eventSeq: number;
  stateSeq: number;
  metricsSeq: number;
  version: number;
  queuedAt: Date | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A `run_stages` row. */
export interface StageRow {
  runId: string;
  name: string;
  position: number;
  status: StageStatus;
  totalItems: number;
  completedItems: number;
  failedItems: number;
  totalIsEstimate: boolean;
  progress: number;
  message: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  updatedAt: Date;
  /** The `runEvents` cursor of this state of the stage. */
  eventSeq: number;
}

/** A `run_logs` row. */
export interface LogRow {
  runId: string;
  seq: number;
  attempt: number;
  timestamp: Date;
  level: LogLevel;
  message: string;
  source: string | null;
  /** The line's `runEvents` cursor (handed out after the batch is applied: 0 until then). */
  eventSeq: number;
}

/** Run columns in {@link RunRow}'s names, for `select ${RUN_COLUMNS('r')} from runs r`. */
export function RUN_COLUMNS(t: string): string {
  return `${t}.id, ${t}.job_id as "jobId", ${t}.number, ${t}.attempt, ${t}.max_attempts as "maxAttempts", ${t}.trigger, ${t}.status,
    ${t}.backend, ${t}.external_id as "externalId", ${t}.engine_state as "engineState", ${t}.last_progress_at as "lastProgressAt",
    ${t}.stalled_since as "stalledSince", ${t}.stall_timeout_s as "stallTimeoutS", ${t}.progress, ${t}.metrics, ${t}.error,
    ${t}.attempts, ${t}.dead_lettered as "deadLettered", ${t}.stopped_by as "stoppedBy", ${t}.next_retry_at as "nextRetryAt", ${t}.lease_owner as "leaseOwner",
    ${t}.lease_expires_at as "leaseExpiresAt", ${t}.alive_until as "aliveUntil", ${t}.stall_at as "stallAt",
    ${t}.log_seq::float8 as "logSeq", ${t}.event_seq::float8 as "eventSeq", ${t}.state_seq::float8 as "stateSeq",
    ${t}.metrics_seq::float8 as "metricsSeq", ${t}.version, ${t}.queued_at as "queuedAt", ${t}.started_at as "startedAt",
    ${t}.finished_at as "finishedAt", ${t}.created_at as "createdAt", ${t}.updated_at as "updatedAt"`;
}

/** The counters of a run row as numbers (bigint columns: a driver may hand them over as strings). */
export function numberSeqs(row: RunRow): RunRow {
  row.logSeq = Number(row.logSeq);
  row.eventSeq = Number(row.eventSeq);
  row.stateSeq = Number(row.stateSeq);
  row.metricsSeq = Number(row.metricsSeq);
  return row;
}

/** Stage columns in {@link StageRow}'s names, for `select ${STAGE_COLUMNS} from run_stages`. */
export const STAGE_COLUMNS = `run_id as "runId", name, position, status, total_items as "totalItems", completed_items as "completedItems",
  failed_items as "failedItems", total_is_estimate as "totalIsEstimate", progress, message, started_at as "startedAt",
  finished_at as "finishedAt", updated_at as "updatedAt", event_seq::float8 as "eventSeq"`;

/** A JSON array of the stages of run `${t}.id`, in the order the work flows (parse with {@link stagesFromJson}). */
export function STAGES_JSON(t: string): string {
  return `coalesce((select json_agg(json_build_object('runId', s.run_id, 'name', s.name, 'position', s.position, 'status', s.status,
      'totalItems', s.total_items, 'completedItems', s.completed_items, 'failedItems', s.failed_items,
      'totalIsEstimate', s.total_is_estimate, 'progress', s.progress, 'message', s.message, 'startedAt', s.started_at,
      'finishedAt', s.finished_at, 'updatedAt', s.updated_at, 'eventSeq', s.event_seq) order by s.position, s.name)
    from run_stages s where s.run_id = ${t}.id), '[]'::json)`;
}

const date = (v: unknown): Date | null => (v === null || v === undefined ? null : v instanceof Date ? v : new Date(v as string));

/** Stages as {@link STAGES_JSON} returns them (a parsed array, or its text). */
export function stagesFromJson(v: unknown): StageRow[] {
  const list = (typeof v === 'string' ? JSON.parse(v) : (v ?? [])) as Record<string, unknown>[];
  return list.map((s) => ({
    ...(s as unknown as StageRow),
    startedAt: date(s.startedAt),
    finishedAt: date(s.finishedAt),
    updatedAt: date(s.updatedAt)!,
    eventSeq: Number(s.eventSeq ?? 0),
  }));
}

/** A timestamp as clients see it (ISO-8601, UTC), or null. */
export const iso = (d: Date | string | null | undefined): string | null => (d ? new Date(d).toISOString() : null);

export function toStageView(s: StageRow): StageView {
  return {
    runId: s.runId,
    name: s.name,
    status: s.status,
    totalItems: s.totalItems,
    completedItems: s.completedItems,
    failedItems: s.failedItems,
    progress: s.progress,
    totalIsEstimate: s.totalIsEstimate,
    message: s.message,
    startedAt: iso(s.startedAt),
    finishedAt: iso(s.finishedAt),
    updatedAt: iso(s.updatedAt)!,
    eventSeq: s.eventSeq,
  };
}

/** The client-facing shape of a run; `stages` are the run's stages in order. */
export function toRunView(run: RunRow, stages: readonly StageRow[]): RunView {
  return {
    id: run.id,
    jobId: run.jobId,
    number: run.number,
    attempt: run.attempt,
    maxAttempts: run.maxAttempts,
    trigger: run.trigger,
    status: run.status,
    backend: run.backend,
    externalId: run.externalId,
    engineState: run.engineState,
    lastProgressAt: iso(run.lastProgressAt),
    stalledSince: iso(run.stalledSince),
    progress: run.progress,
    stages: stages.map(toStageView),
    metrics: run.metrics,
    error: run.error,
    attempts: run.attempts,
    deadLettered: run.deadLettered,
    stoppedBy: run.stoppedBy,
    nextRetryAt: iso(run.nextRetryAt),
    queuedAt: iso(run.queuedAt),
    startedAt: iso(run.startedAt),
    finishedAt: iso(run.finishedAt),
    createdAt: iso(run.createdAt)!,
    updatedAt: iso(run.updatedAt)!,
    version: run.version,
    stateSeq: run.stateSeq,
    metricsSeq: run.metricsSeq,
  };
}

export function toLogLineView(l: LogRow): LogLineView {
  return {
    seq: String(l.seq),
    runId: l.runId,
    attempt: l.attempt,
    timestamp: iso(l.timestamp)!,
    level: l.level,
    message: l.message,
    source: l.source,
  };
}
