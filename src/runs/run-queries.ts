/**
 * The read-side SQL of runs: pages, log lines, monitoring counts. Each query is shaped for an index
 * of src/db/entities (runs-service.test.ts checks the plans with EXPLAIN on a few thousand rows):
 *
 * - run pages: `runs_job_created_idx` (job_id, created_at, id), `runs_status_created_idx`
 *   (status, created_at, id) or `runs_created_idx` (created_at, id), walked backwards from the
 *   keyset `(created_at, id) < cursor`, so a deep page costs what the first one does;
 * - log lines: the primary key (run_id, seq);
 * - dead letters: `runs_status_created_idx` (only FAILED runs are ever dead-lettered);
 * - stuck runs: the partial `runs_active_updated_idx`, which holds only active runs.
 *
 * Builders (`…Query`) return the SQL with `?` placeholders and its parameters; the functions run them.
 */
import { stuckRunsQuery, type StuckReason } from './run-leases';
import type { EntityManager } from '@mikro-orm/postgresql';
import { RunEntity, StageEntity } from '../db/entities';
import { LOG_LEVEL_RANK, LogLevel, RunStatus, type LogLineView } from '../domain';
import { escapeLike, type TimeKey } from '../pagination';

export interface SqlQuery {
  sql: string;
  params: unknown[];
}

export interface RunFilterValues {
  jobId?: string | null;
  status?: RunStatus | null;
}

function runWhere(filter: RunFilterValues, after: TimeKey | null = null): SqlQuery {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.jobId) {
    where.push('job_id = ?');
    params.push(filter.jobId);
  }
  if (filter.status) {
    where.push('status = ?');
    params.push(filter.status);
  }
  if (after) {
    // A row comparison, which a btree on (…, created_at, id) answers as one range.
    where.push('(created_at, id) < (?, ?)');
    params.push(after.createdAt, after.id);
  }
  return { sql: where.length ? `where ${where.join(' and ')}` : '', params };
}

export function runsPageQuery(filter: RunFilterValues, after: TimeKey | null, limit: number): SqlQuery {
  const w = runWhere(filter, after);
  return { sql: `select * from runs ${w.sql} order by created_at desc, id desc limit ?`, params: [...w.params, limit] };
}

/** One page of runs (createdAt desc, id desc) after `after`, `limit` rows at most. */
export async function findRunsPage(em: EntityManager, filter: RunFilterValues, after: TimeKey | null, limit: number): Promise<RunEntity[]> {
  const q = runsPageQuery(filter, after, limit);
  const rows = await em.execute(q.sql, q.params);
  return rows.map((r) => em.map(RunEntity, r));
}

/** How many runs match `filter` (for `totalCount`). */
export async function countRuns(em: EntityManager, filter: RunFilterValues): Promise<number> {
  const w = runWhere(filter);
  const rows = await em.execute<{ n: number }[]>(`select count(*)::int as n from runs ${w.sql}`, w.params);
  return rows[0].n;
}

/** The stages of several runs in one query, by run id, in the order the work flows. */
export async function stagesOf(em: EntityManager, runIds: string[]): Promise<Map<string, StageEntity[]>> {
  const out = new Map<string, StageEntity[]>(runIds.map((id) => [id, []]));
  if (runIds.length === 0) return out;
  const stages = await em.find(StageEntity, { runId: { $in: runIds } }, { orderBy: { runId: 'asc', position: 'asc', name: 'asc' } });
  for (const s of stages) out.get(s.runId)?.push(s);
  return out;
}

export interface LogQueryValues {
  /** Lines with a greater seq. */
  afterSeq: number;
  limit: number;
  minLevel?: LogLevel | null;
  /** Case-insensitive substring of the message. */
  contains?: string | null;
}

export function logLinesQuery(runId: string, q: LogQueryValues): SqlQuery {
  const where = ['run_id = ?', 'seq > ?'];
  const params: unknown[] = [runId, q.afterSeq];
  if (q.minLevel && q.minLevel !== LogLevel.DEBUG) {
    const levels = Object.values(LogLevel).filter((l) => LOG_LEVEL_RANK[l] >= LOG_LEVEL_RANK[q.minLevel!]);
    where.push(`level in (${levels.map(() => '?').join(', ')})`);
    params.push(...levels);
  }
  if (q.contains) {
    where.push('message ilike ?');
    params.push(`%${escapeLike(q.contains)}%`);
  }
  return { sql: `select * from run_logs where ${where.join(' and ')} order by seq limit ?`, params: [...params, q.limit] };
}

interface LogRow {
  run_id: string;
  seq: string | number;
  attempt: number;
  timestamp: Date;
  level: LogLevel;
  message: string;
  source: string | null;
}

/** Log lines of a run in seq order: a range scan of the primary key (run_id, seq). */
export async function findLogLines(em: EntityManager, runId: string, q: LogQueryValues): Promise<LogLineView[]> {
  const query = logLinesQuery(runId, q);
  const rows = await em.execute<LogRow[]>(query.sql, query.params);
  return rows.map((r) => ({
    seq: String(r.seq),
    runId: r.run_id,
    attempt: r.attempt,
    timestamp: new Date(r.timestamp).toISOString(),
    level: r.level,
    message: r.message,
    source: r.source,
  }));
}

export const STATUS_COUNTS_SQL = 'select status, count(*)::int as n from runs group by status';
export const DEAD_LETTERED_SQL = `select count(*)::int as n from runs where status = '${RunStatus.FAILED}' and dead_lettered`;

/**
 * Runs per status, every status present (0 when none). It reads every run (an index-only scan of
 * runs_status_created_idx once the table is vacuumed, else a sequential scan): a dashboard
 * query, not one to run per event.
 */
export async function countRunsByStatus(em: EntityManager): Promise<Record<RunStatus, number>> {
  const out = Object.fromEntries(Object.values(RunStatus).map((s) => [s, 0])) as Record<RunStatus, number>;
  const rows = await em.execute<{ status: RunStatus; n: number }[]>(STATUS_COUNTS_SQL);
  for (const r of rows) out[r.status] = r.n;
  return out;
}

export async function countDeadLettered(em: EntityManager): Promise<number> {
  const rows = await em.execute<{ n: number }[]>(DEAD_LETTERED_SQL);
  return rows[0].n;
}

export { stuckRunsQuery };

/** See {@link stuckRunsQuery}: the runs, with why each looks stuck. */
export async function findStuckRuns(
  em: EntityManager,
  thresholdMs: number,
  limit: number,
  now?: Date,
): Promise<{ run: RunEntity; reason: StuckReason }[]> {
  const q = stuckRunsQuery(thresholdMs, limit, now);
  const rows: (Record<string, unknown> & { stuck_reason: StuckReason })[] = await em.execute(q.sql, q.params);
  return rows.map(({ stuck_reason, ...row }) => ({ run: em.map(RunEntity, row), reason: stuck_reason }));
}
