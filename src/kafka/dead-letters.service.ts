import type { Connection, PageArgs } from '../jobs/job-input';
import { claimIdempotencyKey } from '../db/idempotency-keys';
import { uuid7 } from '../db/uuid7';
import type { Sql, SqlExecutor } from '../db/sql';
import { DeadLetterStatus, type JsonObject } from '../domain';
import { notFound } from '../errors';
import { maskParams } from '../jobs/secrets';
import type { Logger } from '../logger';
import { decodeTimeCursor, encodeTimeCursor, isUuid, pageSize, toConnection } from '../pagination';
import { EventValidationError, parseRunEvent } from '../runs/run-event';
import type { RunEventsService } from '../runs/run-events.service';

/** A record that could not be applied, as the consumer hands it over. */
export interface DeadLetterInput {
  topic: string;
  partition: number;
  /** The record's offset (a decimal string: Kafka offsets are 64-bit). */
  offset: string;
  key: string | null;
  /** The record's value as text, null for a tombstone. */
  value: string | null;
  reason: string;
  eventId?: string | null;
  runId?: string | null;
}

/** A dead letter as the API shows it (`payload` with every secret masked). */
export interface DeadLetterView {
  id: string;
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  eventId: string | null;
  runId: string | null;
  reason: string;
  payload: unknown;
  status: DeadLetterStatus;
  timesSeen: number;
  firstSeenAt: string;
  lastSeenAt: string;
}

export interface DeadLetterFilter {
  status?: DeadLetterStatus | null;
  runId?: string | null;
  topic?: string | null;
}

export interface DeadLettersDeps {
  sql: Sql;
  runEvents: Pick<RunEventsService, 'applyBatch'>;
  logger: Logger;
  maxPageSize: number;
  now?: () => Date;
}

const COLUMNS = `id, topic, partition, "offset"::text as "offset", key, event_id as "eventId", run_id as "runId", reason, payload, status,
  times_seen as "timesSeen", first_seen_at as "firstSeenAt", last_seen_at as "lastSeenAt"`;

type Row = Omit<DeadLetterView, 'firstSeenAt' | 'lastSeenAt'> & { firstSeenAt: Date; lastSeenAt: Date };

const toView = (r: Row): DeadLetterView => ({ ...r, firstSeenAt: r.firstSeenAt.toISOString(), lastSeenAt: r.lastSeenAt.toISOString() });

/** What the API shows of a record's value: its JSON with secrets masked, or its text when it is not JSON. */
export function displayPayload(value: string | null): unknown {
  if (value === null) return null;
  try {
    const parsed = JSON.parse(value) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return maskDeep(parsed as JsonObject);
    return parsed;
  } catch {
    return { text: value.length > 4096 ? `${value.slice(0, 4096)}…` : value };
  }
}

/** Masks secrets at every level of an object (run events nest their payload). */
function maskDeep(o: JsonObject): JsonObject {
  const masked = maskParams(o);
  for (const [k, v] of Object.entries(masked)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) masked[k] = maskDeep(v as JsonObject);
  }
  return masked;
}

/**
 * Dead letters: Kafka records that could not be applied, kept in PostgreSQL (and produced to the
 * dead-letter topic by the consumer) so that none is silently dropped. A redelivered record is the
 * same dead letter seen again. A replay applies the record again (its `eventId` makes that safe):
 * REPLAYED when it now applies, else it stays PENDING with the new reason.
 */
export class DeadLettersService {
  constructor(private readonly deps: DeadLettersDeps) {}

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /** Records dead letters (a record seen before counts once more); in `tx` when given. */
  async record(letters: readonly DeadLetterInput[], tx: SqlExecutor = this.deps.sql): Promise<void> {
    if (letters.length === 0) return;
    const now = this.now();
    const rows = letters.map((l) => ({
      // Time-ordered ids: letters recorded together list in the order their records came.
      id: uuid7(now.getTime()),
      topic: l.topic,
      partition: l.partition,
      offset: l.offset,
      key: l.key,
      eventId: l.eventId ?? null,
      runId: l.runId && isUuid(l.runId) ? l.runId : null,
      reason: l.reason.slice(0, 64 * 1024),
      value: l.value,
      payload: displayPayload(l.value),
    }));
    await tx.query(
      `insert into dead_letters (id, topic, partition, "offset", key, event_id, run_id, reason, value, payload, status, times_seen,
         first_seen_at, last_seen_at)
       select v.id, v.topic, v.partition, v."offset", v.key, v."eventId", v."runId", v.reason, v.value, v.payload, 'PENDING', 1, $2, $2
       from json_to_recordset($1::json) as v(id uuid, topic text, partition int, "offset" bigint, key text, "eventId" text, "runId" uuid,
         reason text, value text, payload jsonb)
       on conflict (topic, partition, "offset") do update set times_seen = dead_letters.times_seen + 1, last_seen_at = excluded.last_seen_at,
         reason = excluded.reason`,
      [JSON.stringify(rows), now],
      'jobwire_dead_letters_record',
    );
    for (const l of letters) {
      this.deps.logger.warn({ topic: l.topic, partition: l.partition, offset: l.offset, runId: l.runId, reason: l.reason }, 'dead letter');
    }
  }

  async get(id: string): Promise<DeadLetterView | null> {
    if (!isUuid(id)) return null;
    const rows = await this.deps.sql.query<Row>(`select ${COLUMNS} from dead_letters where id = $1`, [id], 'jobwire_dead_letter');
    return rows[0] ? toView(rows[0]) : null;
  }

  /** Dead letters, newest first (by when first seen, then in the order they came), by status, run and topic. */
  async list(filter: DeadLetterFilter | null | undefined, page: PageArgs): Promise<Connection<DeadLetterView> & { totalCount: number }> {
    const limit = pageSize(page.first, this.deps.maxPageSize);
    const after = decodeTimeCursor(page.after);
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: (n: number) => string, ...values: unknown[]) => {
      const n = params.length + 1;
      params.push(...values);
      where.push(sql(n));
    };
    if (filter?.status) add((n) => `status = $${n}`, filter.status);
    if (filter?.runId) {
      if (!isUuid(filter.runId)) return { edges: [], pageInfo: { hasNextPage: false, endCursor: null }, totalCount: 0 };
      add((n) => `run_id = $${n}`, filter.runId);
    }
    if (filter?.topic) add((n) => `topic = $${n}`, filter.topic);
    const cond = (w: string[]) => (w.length ? `where ${w.join(' and ')}` : '');
    const countParams = [...params];
    const countSql = `select count(*)::int as n from dead_letters ${cond(where)}`;
    if (after) add((n) => `(first_seen_at, id) < ($${n}, $${n + 1})`, after.createdAt, after.id);
    params.push(limit + 1);
    const [rows, count] = await Promise.all([
      this.deps.sql.query<Row>(
        `select ${COLUMNS} from dead_letters ${cond(where)} order by first_seen_at desc, id desc limit $${params.length}`,
        params,
      ),
      this.deps.sql.query<{ n: number }>(countSql, countParams),
    ]);
    const views = rows.map(toView);
    return {
      ...toConnection(views, limit, (d) => encodeTimeCursor({ createdAt: new Date(d.firstSeenAt), id: d.id })),
      totalCount: count[0].n,
    };
  }

  /** How many wait for a replay or a discard. */
  async pendingCount(): Promise<number> {
    const rows = await this.deps.sql.query<{ n: number }>(
      `select count(*)::int as n from dead_letters where status = 'PENDING'`,
      [],
      'jobwire_dead_letters_pending',
    );
    return rows[0].n;
  }

  /**
   * Applies the record again (e.g. after its run was created): REPLAYED when it now applies (or was
   * applied meanwhile: its eventId says so), else PENDING with the new reason. The same
   * `idempotencyKey` within 24 h returns the dead letter as it is. NOT_FOUND for an unknown id.
   */
  async replay(id: string, opts: { idempotencyKey?: string } = {}): Promise<DeadLetterView> {
    const letter = await this.require(id);
    if (opts.idempotencyKey && !(await this.claim(`replayDeadLetter:${id}`, opts.idempotencyKey, id))) return (await this.get(id))!;
    if (letter.status !== DeadLetterStatus.PENDING) return letter;
    const value = (await this.deps.sql.query<{ value: string | null }>('select value from dead_letters where id = $1', [id]))[0].value;
    let reason: string | null;
    try {
      const event = parseRunEvent(JSON.parse(value ?? 'null'), { external: true });
      const [result] = await this.deps.runEvents.applyBatch([event]);
      reason = result.outcome === 'unknown-run' || result.outcome === 'rejected' ? result.reason : null;
    } catch (err) {
      if (err instanceof SyntaxError) reason = `not JSON: ${err.message}`;
      else if (err instanceof EventValidationError) reason = `invalid: ${err.message}`;
      else throw err;
    }
    const rows = await this.deps.sql.query<Row>(
      `update dead_letters set status = case when $2::text is null then 'REPLAYED' else 'PENDING' end, reason = coalesce($2, reason),
         last_seen_at = $3
       where id = $1 returning ${COLUMNS}`,
      [id, reason, this.now()],
    );
    this.deps.logger.info({ deadLetterId: id, replayed: reason === null, reason }, 'dead letter replayed');
    return toView(rows[0]);
  }

  /** Sets a dead letter aside (DISCARDED). The same `idempotencyKey` within 24 h returns it as it is. NOT_FOUND for an unknown id. */
  async discard(id: string, opts: { idempotencyKey?: string } = {}): Promise<DeadLetterView> {
    await this.require(id);
    if (opts.idempotencyKey && !(await this.claim(`discardDeadLetter:${id}`, opts.idempotencyKey, id))) return (await this.get(id))!;
    const rows = await this.deps.sql.query<Row>(
      `update dead_letters set status = 'DISCARDED', last_seen_at = $2 where id = $1 returning ${COLUMNS}`,
      [id, this.now()],
    );
    return toView(rows[0]);
  }

  private async require(id: string): Promise<DeadLetterView> {
    const letter = await this.get(id);
    if (!letter) throw notFound('DeadLetter', id);
    return letter;
  }

  /** True when this call owns the key (first use within 24 h). */
  private async claim(scope: string, key: string, resultId: string): Promise<boolean> {
    return this.deps.sql.transaction(async (tx) => (await claimIdempotencyKey(tx, { scope, key, resultId, now: this.now() })).fresh);
  }
}
