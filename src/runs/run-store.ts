/**
 * The SQL of the one writer (RunEventsService): reading and locking the runs a batch touches,
 * recording event ids, and writing a whole batch back with one statement whatever its size
 * (set-based, from JSON record sets, prepared once per connection on PostgreSQL). Nothing outside
 * src/runs/run-events.service.ts calls these.
 */
import type { SqlExecutor, Statement } from '../db/sql';
import { ExecutionBackend, RunStatus, RunTrigger, StallAction, type JobStatus } from '../domain';
import { newRunState, type RunState } from './run-apply';
import { RUN_COLUMNS, STAGE_COLUMNS, numberSeqs, type RunRow, type StageRow } from './run-rows';

const LOCK_SQL = `select ${RUN_COLUMNS('r')} from runs r where r.id = any($1::uuid[]) order by r.id for update`;
const STAGES_SQL = `select ${STAGE_COLUMNS} from run_stages where run_id = any($1::uuid[]) order by run_id, position, name`;
const JOBS_SQL = `select j.id, (j.schedule->>'retryDelaySeconds')::int as "retryDelaySeconds", j.latest_run_id as "latestRunId",
    j.on_stall as "onStall"
  from jobs j where j.id in (select job_id from runs where id = any($1::uuid[]))`;

/**
 * Locks the runs with these ids (in id order, so concurrent batches never deadlock on each other),
 * reads their stages and what their jobs contribute, and records the event ids of the batch that
 * belong to runs that exist — four statements, one round trip. Unknown ids are absent from
 * `states`; `fresh` holds the event ids never applied before (the others are redeliveries).
 */
export async function lockRuns(
  tx: SqlExecutor,
  ids: readonly string[],
  events: readonly { eventId: string; runId: string }[],
  now: Date,
): Promise<{ states: Map<string, RunState>; fresh: Set<string> }> {
  const out = new Map<string, RunState>();
  if (ids.length === 0) return { states: out, fresh: new Set() };
  const statements: Statement[] = [
    { text: LOCK_SQL, values: [ids], name: 'jobwire_lock_runs' },
    { text: STAGES_SQL, values: [ids], name: 'jobwire_lock_stages' },
    { text: JOBS_SQL, values: [ids], name: 'jobwire_lock_jobs' },
  ];
  if (events.length) {
    statements.push({ text: DEDUPE_SQL, values: [events.map((e) => e.eventId), events.map((e) => e.runId), now], name: 'jobwire_dedupe' });
  }
  const [rows, stageRows, jobRows, freshRows = []] = (await tx.queries(statements)) as [
    RunRow[],
    StageRow[],
    { id: string; retryDelaySeconds: number | null; latestRunId: string | null; onStall: StallAction | null }[],
    { eventId: string }[]?,
  ];
  const stagesOf = new Map<string, StageRow[]>();
  for (const st of stageRows) {
    st.eventSeq = Number(st.eventSeq);
    let list = stagesOf.get(st.runId);
    if (!list) stagesOf.set(st.runId, (list = []));
    list.push(st);
  }
  const jobs = new Map(jobRows.map((j) => [j.id, j]));
  for (const row of rows) {
    numberSeqs(row);
    const job = jobs.get(row.jobId);
    out.set(
      row.id,
      newRunState(row, stagesOf.get(row.id) ?? [], {
        retryDelaySeconds: job?.retryDelaySeconds ?? null,
        isLatest: job?.latestRunId === row.id,
        onStall: job?.onStall ?? StallAction.NONE,
      }),
    );
  }
  return { states: out, fresh: new Set(freshRows.map((r) => r.eventId)) };
}

// Only ids of runs that exist are recorded: an event of an unknown run is not applied, and must
// apply once the run exists (a dead letter replayed).
const DEDUPE_SQL = `insert into applied_events (event_id, run_id, applied_at)
  select u.event_id, u.run_id, $3 from unnest($1::text[], $2::uuid[]) as u(event_id, run_id)
  where u.run_id in (select id from runs where id = any($2::uuid[]))
  on conflict do nothing returning event_id as "eventId"`;

const WRITE_SQL = `with
ur as (
  update runs t set attempt = v.attempt, status = v.status, external_id = v."externalId", engine_state = v."engineState",
    last_progress_at = v."lastProgressAt", stalled_since = v."stalledSince", progress = v.progress, metrics = v.metrics,
    error = v.error, attempts = v.attempts, dead_lettered = v."deadLettered", stopped_by = v."stoppedBy", next_retry_at = v."nextRetryAt",
    lease_owner = v."leaseOwner", lease_expires_at = v."leaseExpiresAt", alive_until = v."aliveUntil", stall_at = v."stallAt",
    log_seq = v."logSeq", event_seq = v."eventSeq", state_seq = v."stateSeq", metrics_seq = v."metricsSeq", version = v.version, queued_at = v."queuedAt", started_at = v."startedAt", finished_at = v."finishedAt",
    updated_at = v."updatedAt"
  from json_to_recordset($1::json) as v(id uuid, attempt int, status text, "externalId" text, "engineState" text,
    "lastProgressAt" timestamptz, "stalledSince" timestamptz, progress float8, metrics jsonb, error jsonb, attempts jsonb,
    "deadLettered" boolean, "stoppedBy" text, "nextRetryAt" timestamptz, "leaseOwner" text, "leaseExpiresAt" timestamptz, "aliveUntil" timestamptz,
    "stallAt" timestamptz, "logSeq" bigint, "eventSeq" bigint, "stateSeq" bigint, "metricsSeq" bigint, version int, "queuedAt" timestamptz, "startedAt" timestamptz, "finishedAt" timestamptz,
    "updatedAt" timestamptz)
  where t.id = v.id),
us as (
  insert into run_stages (run_id, name, position, status, total_items, completed_items, failed_items, total_is_estimate, progress,
    message, started_at, finished_at, updated_at, event_seq)
  select v."runId", v.name, v.position, v.status, v."totalItems", v."completedItems", v."failedItems", v."totalIsEstimate",
    v.progress, v.message, v."startedAt", v."finishedAt", v."updatedAt", v."eventSeq"
  from json_to_recordset($2::json) as v("runId" uuid, name text, position int, status text, "totalItems" int, "completedItems" int,
    "failedItems" int, "totalIsEstimate" boolean, progress float8, message text, "startedAt" timestamptz, "finishedAt" timestamptz,
    "updatedAt" timestamptz, "eventSeq" bigint)
  on conflict (run_id, name) do update set position = excluded.position, status = excluded.status,
    total_items = excluded.total_items, completed_items = excluded.completed_items, failed_items = excluded.failed_items,
    total_is_estimate = excluded.total_is_estimate, progress = excluded.progress, message = excluded.message,
    started_at = excluded.started_at, finished_at = excluded.finished_at, updated_at = excluded.updated_at,
    event_seq = excluded.event_seq),
ul as (
  insert into run_logs (run_id, seq, attempt, "timestamp", level, message, source, event_seq)
  select v."runId", v.seq, v.attempt, v."timestamp", v.level, v.message, v.source, v."eventSeq"
  from json_to_recordset($3::json) as v("runId" uuid, seq bigint, attempt int, "timestamp" timestamptz, level text, message text,
    source text, "eventSeq" bigint)),
um as (
  insert into run_metric_samples (run_id, attempt, "timestamp", records_processed, records_failed, throughput_rps, bytes_processed,
    active_workers, cpu_utilization, memory_utilization)
  select v."runId", v.attempt, v."timestamp", v."recordsProcessed", v."recordsFailed", v."throughputRps", v."bytesProcessed",
    v."activeWorkers", v."cpuUtilization", v."memoryUtilization"
  from json_to_recordset($4::json) as v("runId" uuid, attempt int, "timestamp" timestamptz, "recordsProcessed" float8,
    "recordsFailed" float8, "throughputRps" float8, "bytesProcessed" float8, "activeWorkers" int, "cpuUtilization" float8,
    "memoryUtilization" float8)),
uj as (
  update jobs j set status = v.status
  from json_to_recordset($5::json) as v("jobId" uuid, "runId" uuid, status text)
  where j.id = v."jobId" and j.latest_run_id = v."runId")
select 1`;

const RESET_STAGES_SQL = 'delete from run_stages where run_id = any($1::uuid[])';

/** What a batch changed, ready to write. */
export interface BatchWrite {
  states: RunState[];
  jobStatuses: { jobId: string; runId: string; status: JobStatus }[];
}

/**
 * Writes every change of a batch: runs, stages, log lines, metric samples and job statuses, with
 * one statement (two when a new attempt reset some run's stages). Versions were bumped by the caller.
 */
export async function writeBatch(tx: SqlExecutor, batch: BatchWrite, last = false): Promise<void> {
  const runs = batch.states.filter((s) => s.written);
  if (runs.length === 0 && batch.jobStatuses.length === 0) return;
  const reset = runs.filter((s) => s.stagesReset).map((s) => s.row.id);
  if (reset.length) await tx.query(RESET_STAGES_SQL, [reset], 'jobwire_reset_stages');
  const stages = runs.flatMap((s) => s.stages.filter((st) => s.dirtyStages.has(st.name)));
  const logs = runs.flatMap((s) => s.logs);
  const samples = runs.flatMap((s) => s.samples);
  await tx.query(
    WRITE_SQL,
    [
      JSON.stringify(runs.map((s) => s.row)),
      JSON.stringify(stages),
      JSON.stringify(logs),
      JSON.stringify(samples),
      JSON.stringify(batch.jobStatuses),
    ],
    'jobwire_write_batch',
    { last },
  );
}

/** A job as creating a run needs it (locked). */
export interface JobForRun {
  id: string;
  backend: ExecutionBackend;
  maxAttempts: number | null;
  stallTimeoutSeconds: number | null;
  schedule: { cron: string; timezone: string; startAt: string | null; endAt: string | null; enabled: boolean } | null;
  nextRunAt: Date | null;
}

/** Locks a job row (waits, or with `skipLocked` returns null when another transaction holds it). */
export async function lockJob(tx: SqlExecutor, jobId: string, skipLocked = false): Promise<JobForRun | null> {
  const rows = await tx.query<JobForRun>(
    `select id, backend, max_attempts as "maxAttempts", stall_timeout_seconds as "stallTimeoutSeconds", schedule,
       next_run_at as "nextRunAt" from jobs where id = $1 for update${skipLocked ? ' skip locked' : ''}`,
    [jobId],
    skipLocked ? 'jobwire_lock_job_skip' : 'jobwire_lock_job',
  );
  return rows[0] ?? null;
}

/** The row of a new run (its first attempt). */
export interface NewRun {
  id: string;
  jobId: string;
  trigger: RunTrigger;
  status: RunStatus;
  backend: ExecutionBackend;
  maxAttempts: number;
  stallTimeoutS: number;
  aliveUntil: Date | null;
  /** Who started it: a caller's subject, or `scheduler` (the first attempt's `triggeredBy`). */
  triggeredBy: string | null;
  now: Date;
}

/** Inserts run N+1 of its job and makes it the job's latest; returns the run as stored. */
export async function insertRun(tx: SqlExecutor, r: NewRun, jobStatus: JobStatus): Promise<RunRow> {
  const attempts = [{ attempt: 1, status: r.status, startedAt: null, finishedAt: null, error: null, triggeredBy: r.triggeredBy }];
  const rows = await tx.query<RunRow>(
    `with j as (update jobs set run_counter = run_counter + 1, latest_run_id = $1::uuid, status = $10::text where id = $2::uuid
       returning run_counter)
     insert into runs (id, job_id, number, attempt, max_attempts, trigger, status, backend, stall_timeout_s, alive_until, attempts,
       queued_at, created_at, updated_at, version, event_seq, state_seq)
     select $1::uuid, $2::uuid, j.run_counter, 1, $3::int, $4::text, $5::text, $6::text, $7::int, $8::timestamptz, $9::jsonb,
       case when $5::text = 'QUEUED' then $11::timestamptz end, $11::timestamptz, $11::timestamptz, 1, 1, 1
     from j
     returning ${RUN_COLUMNS('runs')}`,
    [
      r.id,
      r.jobId,
      r.maxAttempts,
      r.trigger,
      r.status,
      r.backend,
      r.stallTimeoutS,
      r.aliveUntil,
      JSON.stringify(attempts),
      jobStatus,
      r.now,
    ],
    'jobwire_insert_run',
  );
  return numberSeqs(rows[0]);
}
