/**
 * Reading a run's log lines by `runEvents` cursor without an index of their own. A line's cursor
 * (`run_logs.event_seq`; its `seq` on lines written before cursors existed) grows with its `seq`,
 * since the one writer hands out both under the run's lock in the same order. So the lines between
 * two cursors are one range of the primary key (run_id, seq): each end is found by a binary search
 * over that key (about log2(lines) index probes, in the same statement), and the range is read in
 * seq order. Applying events pays nothing for it: no second index on the busiest table.
 */
import type { SqlExecutor } from '../db/sql';
import { LOG_LEVEL_RANK, LogLevel, type LogLineView } from '../domain';
import { toLogLineView, type LogLineRow } from './run-queries';

/** A log line with its `runEvents` cursor. */
export interface SequencedLogLine extends LogLineView {
  eventSeq: number;
}

export interface CursorRange {
  /** Lines with a cursor above this. */
  after: number;
  /** …and below this (null: every line after `after`). */
  before: number | null;
  minLevel?: LogLevel | null;
  limit: number;
}

/**
 * A recursive CTE `name(lo, hi)` whose final row (`lo >= hi`) holds in `lo` the seq of the run's last
 * line whose cursor is at most `$cursor` (0 when none). Invariants: no line after `hi` has a cursor
 * at most `$cursor`; `lo` is 0 or such a line. A cursor is never below its line's seq, so the search
 * starts at `least(log_seq, cursor)`.
 */
const lastSeqAtOrBelow = (name: string, cursor: string) => `${name}(lo, hi) as (
    select 0::bigint, least((select log_seq from runs where id = $1), ${cursor}::bigint)
    union all
    select case when p.e <= ${cursor} then p.seq else b.lo end,
           case when p.e <= ${cursor} then b.hi else (b.lo + b.hi + 1) / 2 - 1 end
    from ${name} b left join lateral (
      select l.seq, coalesce(l.event_seq, l.seq) as e from run_logs l
      where l.run_id = $1 and l.seq >= (b.lo + b.hi + 1) / 2 order by l.seq limit 1) p on true
    where b.lo < b.hi)`;

const COLUMNS = `l.run_id as "runId", l.seq::float8 as seq, l.attempt, l."timestamp", l.level, l.message, l.source,
  coalesce(l.event_seq, l.seq)::float8 as "eventSeq"`;

/** The SQL of {@link findLogLinesByCursor}: $1 run, $2 after, $3 before - 1 (when bounded), then the limit and levels. */
function linesByCursorQuery(runId: string, q: CursorRange): { sql: string; params: unknown[] } {
  const params: unknown[] = [runId, q.after];
  const ctes = [lastSeqAtOrBelow('lower', '$2')];
  let upper = '';
  if (q.before !== null) {
    params.push(q.before - 1);
    ctes.push(lastSeqAtOrBelow('upper', `$${params.length}`));
    upper = ' and l.seq <= (select lo from upper where lo >= hi)';
  }
  let level = '';
  if (q.minLevel && q.minLevel !== LogLevel.DEBUG) {
    params.push(Object.values(LogLevel).filter((l) => LOG_LEVEL_RANK[l] >= LOG_LEVEL_RANK[q.minLevel!]));
    level = ` and l.level = any($${params.length}::text[])`;
  }
  params.push(q.limit);
  return {
    sql: `with recursive ${ctes.join(', ')}
      select ${COLUMNS} from run_logs l
      where l.run_id = $1 and l.seq > (select lo from lower where lo >= hi)${upper}${level}
      order by l.seq limit $${params.length}`,
    params,
  };
}

/** Lines of a run whose cursor lies in (`after`, `before`), at `minLevel` or above, in order, `limit` at most. */
export async function findLogLinesByCursor(ex: SqlExecutor, runId: string, q: CursorRange): Promise<SequencedLogLine[]> {
  if (q.before !== null && q.before <= q.after + 1) return [];
  const { sql, params } = linesByCursorQuery(runId, q);
  const rows = await ex.query<LogLineRow & { eventSeq: number | string }>(sql, params);
  return rows.map((r) => ({ ...toLogLineView(r), eventSeq: Number(r.eventSeq) }));
}
