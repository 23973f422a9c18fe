/**
 * The read side of runs: views straight from rows, one statement each (a run comes with its stages
 * in the same statement). Each query is shaped for an index of src/db/entities
 * (runs-service.test.ts checks the plans with EXPLAIN):
 *
 * - run pages: `runs_job_created_idx` (job_id, created_at, id), `runs_status_created_idx`
 *   (status, created_at, id) or `runs_created_idx` (created_at, id), walked backwards from the
 *   keyset `(created_at, id) < cursor`, so a deep page costs what the first one does;
 * - log lines: the primary key (run_id, seq);
 * - dead letters: `runs_status_created_idx` (only FAILED runs are ever dead-lettered);
 * - stuck runs, stalled runs, due stalls and due retries: small partial indexes that hold only the
 *   runs concerned (`runs_alive_until_idx`, `runs_stalled_idx`, `runs_stall_at_idx`,
 *   `runs_next_retry_idx`), so their cost does not grow with idle or finished runs.
 */
import type { SqlExecutor } from '../db/sql';
import {
  LOG_LEVEL_RANK,
  LogLevel,
  RunStatus,
  type ExecutionBackend,
  type LogLineView,
  type MetricsView,
  type RunView,
  type StageView,
} from '../domain';
import { escapeLike, type TimeKey } from '../pagination';
import { RUN_COLUMNS, STAGES_JSON, numberSeqs, stagesFromJson, toRunView, toStageView, type RunRow } from './run-rows';

type RunWithStages = RunRow & { stages: unknown };

const RUN_SELECT = `select ${RUN_COLUMNS('r')}, ${STAGES_JSON('r')} as stages from runs r`;

function toViews(rows: RunWithStages[]): RunView[] {
  return rows.map(({ stages, ...row }) => {
    numberSeqs(row);
    return toRunView(row, stagesFromJson(stages));
  });
}

/** A run with its stages, or null. */
export async function readRunView(ex: SqlExecutor, id: string): Promise<RunView | null> {
  const rows = await ex.query<RunWithStages>(`${RUN_SELECT} where r.id = $1`, [id], 'jobwire_read_run');
  return toViews(rows)[0] ?? null;
}

/** Several runs with their stages, in one statement; by id. */
export async function readRunViews(ex: SqlExecutor, ids: readonly string[]): Promise<Map<string, RunView>> {
  if (ids.length === 0) return new Map();
  const rows = await ex.query<RunWithStages>(`${RUN_SELECT} where r.id = any($1::uuid[])`, [ids], 'jobwire_read_runs');
  return new Map(toViews(rows).map((v) => [v.id, v]));
}

/** The stages of a run in the order the work flows. */
export async function readStages(ex: SqlExecutor, runId: string): Promise<StageView[]> {
  const rows = await ex.query<{ stages: unknown }>(
    `select ${STAGES_JSON('r')} as stages from runs r where r.id = $1`,
    [runId],
    'jobwire_read_stages',
  );
  return rows.length ? stagesFromJson(rows[0].stages).map(toStageView) : [];
}

export interface RunFilterValues {
  jobId?: string | null;
  status?: RunStatus | null;
  backend?: ExecutionBackend | null;
  tag?: string | null;
}

function runWhere(filter: RunFilterValues, after: TimeKey | null, params: unknown[]): string {
  const where: string[] = [];
  const add = (sql: (n: number) => string, ...values: unknown[]) => {
    const first = params.length + 1;
    params.push(...values);
    where.push(sql(first));
  };
  if (filter.jobId) add((n) => `r.job_id = $${n}`, filter.jobId);
  if (filter.status) add((n) => `r.status = $${n}`, filter.status);
  if (filter.backend) add((n) => `r.backend = $${n}`, filter.backend);
  if (filter.tag) add((n) => `r.job_id in (select j.id from jobs j where j.tags @> $${n}::jsonb)`, JSON.stringify([filter.tag]));
  // A row comparison, which a btree on (…, created_at, id) answers as one range.
  if (after) add((n) => `(r.created_at, r.id) < ($${n}, $${n + 1})`, after.createdAt, after.id);
  return where.length ? `where ${where.join(' and ')}` : '';
}

/** The SQL of a page of runs (createdAt desc, id desc), for the EXPLAIN checks. */
export function runsPageQuery(filter: RunFilterValues, after: TimeKey | null, limit: number): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const where = runWhere(filter, after, params);
  params.push(limit);
  return { sql: `${RUN_SELECT} ${where} order by r.created_at desc, r.id desc limit $${params.length}`, params };
}

/** One page of runs (createdAt desc, id desc) after `after`, `limit` rows at most. */
export async function findRunsPage(ex: SqlExecutor, filter: RunFilterValues, after: TimeKey | null, limit: number): Promise<RunView[]> {
  const q = runsPageQuery(filter, after, limit);
  return toViews(await ex.query<RunWithStages>(q.sql, q.params));
}

/** How many runs match `filter` (for `totalCount`). */
export async function countRuns(ex: SqlExecutor, filter: RunFilterValues): Promise<number> {
  const params: unknown[] = [];
  const where = runWhere(filter, null, params);
  const rows = await ex.query<{ n: number }>(`select count(*)::int as n from runs r ${where}`, params);
  return rows[0].n;
}

export interface LogQueryValues {
  /** Lines with a greater seq. */
  afterSeq: number;
  limit: number;
  minLevel?: LogLevel | null;
  /** Case-insensitive substring of the message. */
  contains?: string | null;
}

export function logLinesQuery(runId: string, q: LogQueryValues): { sql: string; params: unknown[] } {
  const where = ['run_id = $1', 'seq > $2'];
  const params: unknown[] = [runId, q.afterSeq];
  if (q.minLevel && q.minLevel !== LogLevel.DEBUG) {
    const levels = Object.values(LogLevel).filter((l) => LOG_LEVEL_RANK[l] >= LOG_LEVEL_RANK[q.minLevel!]);
    params.push(levels);
    where.push(`level = any($${params.length}::text[])`);
  }
  if (q.contains) {
    params.push(`%${escapeLike(q.contains)}%`);
    where.push(`message ilike $${params.length}`);
  }
  params.push(q.limit);
  return {
    sql: `select run_id as "runId", seq::float8 as seq, attempt, "timestamp", level, message, source from run_logs
      where ${where.join(' and ')} order by seq limit $${params.length}`,
    params,
  };
}

/** A `run_logs` row as its query selects it (`seq` as float8, `timestamp` as the driver reads it). */
export interface LogLineRow {
  runId: string;
  seq: number;
  attempt: number;
  timestamp: Date | string;
  level: LogLevel;
  message: string;
  source: string | null;
}

/** The view of a `run_logs` row. */
export const toLogLineView = (r: LogLineRow): LogLineView => ({
  seq: String(r.seq),
  runId: r.runId,
  attempt: r.attempt,
  timestamp: new Date(r.timestamp).toISOString(),
  level: r.level,
  message: r.message,
  source: r.source,
});

/** Log lines of a run in seq order: a range scan of the primary key (run_id, seq). */
export async function findLogLines(ex: SqlExecutor, runId: string, q: LogQueryValues): Promise<LogLineView[]> {
  const query = logLinesQuery(runId, q);
  return (await ex.query<LogLineRow>(query.sql, query.params)).map(toLogLineView);
}

export const STATUS_COUNTS_SQL = 'select status, count(*)::int as n from runs group by status';
export const DEAD_LETTERED_SQL = `select count(*)::int as n from runs where status = '${RunStatus.FAILED}' and dead_lettered`;
export const STALLED_SQL = 'select count(*)::int as n from runs where stalled_since is not null';

/**
 * Runs per status, every status present (0 when none). It reads every run (an index-only scan of
 * runs_status_created_idx once the table is vacuumed, else a sequential scan): a dashboard
 * query, not one to run per event.
 */
export async function countRunsByStatus(ex: SqlExecutor): Promise<Record<RunStatus, number>> {
  const out = Object.fromEntries(Object.values(RunStatus).map((s) => [s, 0])) as Record<RunStatus, number>;
  const rows = await ex.query<{ status: RunStatus; n: number }>(STATUS_COUNTS_SQL, [], 'jobwire_status_counts');
  for (const r of rows) out[r.status] = r.n;
  return out;
}

/**
 * Runs per status and backend, only the combinations present. Like {@link countRunsByStatus} it
 * reads every run (a sequential scan: no index holds both columns), so it is for `/metrics`, whose
 * scrapes share one reading for a few seconds (src/metrics/scrape-gauges.ts).
 */
export async function countRunsByStatusAndBackend(
  ex: SqlExecutor,
): Promise<{ status: RunStatus; backend: ExecutionBackend; count: number }[]> {
  return ex.query<{ status: RunStatus; backend: ExecutionBackend; count: number }>(
    'select status, backend, count(*)::int as count from runs group by status, backend',
    [],
    'jobwire_status_backend_counts',
  );
}

export async function countDeadLettered(ex: SqlExecutor): Promise<number> {
  return (await ex.query<{ n: number }>(DEAD_LETTERED_SQL, [], 'jobwire_dead_lettered'))[0].n;
}

export async function countStalled(ex: SqlExecutor): Promise<number> {
  return (await ex.query<{ n: number }>(STALLED_SQL, [], 'jobwire_stalled'))[0].n;
}

/**
 * The SQL of "runs that look dead now": past their liveness deadline (a LOCAL run's lease expired,
 * any other run silent for longer than the stuck threshold), longest overdue first.
 */
export function stuckRunsQuery(now: Date, limit: number): { sql: string; params: unknown[] } {
  return { sql: `${RUN_SELECT} where r.alive_until < $1 order by r.alive_until, r.id limit $2`, params: [now, limit] };
}

/** See {@link stuckRunsQuery}: the one definition of a stuck run, for the monitor and `jobStats.stuckRuns`. */
export async function findStuckRuns(ex: SqlExecutor, now: Date, limit: number): Promise<RunView[]> {
  const q = stuckRunsQuery(now, limit);
  return toViews(await ex.query<RunWithStages>(q.sql, q.params, 'jobwire_stuck_runs'));
}

/** Ids of RUNNING runs past their stall deadline (not yet flagged), longest overdue first. */
export async function findDueStalls(ex: SqlExecutor, now: Date, limit: number): Promise<string[]> {
  const rows = await ex.query<{ id: string }>(
    'select id from runs where stall_at <= $1 order by stall_at limit $2',
    [now, limit],
    'jobwire_due_stalls',
  );
  return rows.map((r) => r.id);
}

/** Ids of FAILED runs whose automatic retry is due, earliest first. */
export async function findDueRetries(ex: SqlExecutor, now: Date, limit: number): Promise<string[]> {
  const rows = await ex.query<{ id: string }>(
    `select id from runs where next_retry_at <= $1 and status = '${RunStatus.FAILED}' order by next_retry_at limit $2`,
    [now, limit],
    'jobwire_due_retries',
  );
  return rows.map((r) => r.id);
}

/** Metric samples of each run's current attempt taken at or after `since`, oldest first, `limit` per run at most. */
export async function findMetricsHistory(
  ex: SqlExecutor,
  runIds: readonly string[],
  since: Date | null,
  limit: number,
): Promise<Map<string, MetricsView[]>> {
  const out = new Map<string, MetricsView[]>(runIds.map((id) => [id, []]));
  if (runIds.length === 0) return out;
  // One index range scan of run_metric_samples_run_ts_idx per run (a lateral join), not one sort of every sample.
  const rows = await ex.query<MetricsView & { timestamp: Date | string }>(
    `select s.run_id as "runId", s."timestamp", s.records_processed as "recordsProcessed", s.records_failed as "recordsFailed",
       s.throughput_rps as "throughputRps", s.bytes_processed as "bytesProcessed", s.active_workers as "activeWorkers",
       s.cpu_utilization as "cpuUtilization", s.memory_utilization as "memoryUtilization"
     from runs r cross join lateral (
       select * from run_metric_samples m where m.run_id = r.id and m.attempt = r.attempt and m."timestamp" >= $2
       order by m."timestamp", m.id limit $3) s
     where r.id = any($1::uuid[])
     order by s.run_id, s."timestamp", s.id`,
    [runIds, since ?? new Date(0), limit],
    'jobwire_metrics_history',
  );
  for (const r of rows) out.get(r.runId)?.push({ ...r, timestamp: new Date(r.timestamp).toISOString() });
  return out;
}

/** A run with its stages, and its last `runEvents` cursor, as one statement read them; null for an unknown run. */
export async function readRunAtCursor(ex: SqlExecutor, id: string): Promise<{ run: RunView; eventSeq: number } | null> {
  const rows = await ex.query<RunWithStages>(`${RUN_SELECT} where r.id = $1`, [id], 'jobwire_read_run');
  if (!rows.length) return null;
  return { run: toViews(rows)[0], eventSeq: Number(rows[0].eventSeq) };
}
