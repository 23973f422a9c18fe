/**
 * Load sinks: where converted rows go. The engine only needs a query method for DDL/metadata and a
 * bulk path; both PostgreSQL (node-postgres + COPY) and embedded PGlite implement it.
 */
import type { PGlite } from '@electric-sql/pglite';
import type { Pool, PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { quoteIdent } from './identifiers';

/** Destination of an ingest. */
export interface LoadSink {
  /** Runs one statement (DDL, information_schema lookups). Rejects with the driver's error. */
  query<T = any>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
  /**
   * Bulk-loads rows encoded as COPY CSV format (no header, NULL = unquoted empty field, complete
   * lines as {@link csvQuote} and the engine produce), `rowCount` rows in all, into `table` (quoted
   * `"schema"."table"`) `columns` (plain names; the sink quotes them). All-or-nothing per call.
   * Resolves with the number of rows written; rejects with the driver's error (a SQLSTATE `code` of
   * class 22/23 means a row's data was refused).
   */
  copyCsv(table: string, columns: string[], data: readonly Buffer[], rowCount: number): Promise<number>;
  /**
   * Largest COPY the sink wants, in bytes: the engine then hands a batch over in several
   * {@link copyCsv} calls of about this size (each all-or-nothing by itself), and counts each as
   * loaded when it is. Absent: one call per batch.
   */
  readonly maxCopyBytes?: number;
  /**
   * Runs `work` (statements through {@link query}) so that when one of them fails, what `work` did is
   * undone and the sink stays usable: a savepoint in a transactional sink, where a failed statement
   * would otherwise abort the whole load. Rejects with `work`'s error. Absent: every statement is
   * atomic by itself and a failure leaves nothing to undo.
   */
  atomic?<T>(work: () => Promise<T>): Promise<T>;
  /**
   * Makes everything this sink wrote durable at once. The engine calls it when an ingest succeeds;
   * a transactional sink writes nothing visible before it. Absent: each copy is durable by itself.
   */
  commit?(): Promise<void>;
  /** Undoes everything not committed (the engine calls it when an ingest fails). Never rejects. */
  rollback?(): Promise<void>;
  /** Releases resources the sink owns (rolls back what was not committed); the pool/db stay the caller's. */
  close?(): Promise<void>;
}

/**
 * Quotes a value for COPY CSV format when it must be: when it holds a comma, quote, newline or
 * carriage return, is empty (an unquoted empty field means NULL) or is the end-of-data marker `\\.`.
 * Returns `v` itself otherwise.
 */
export function csvQuote(v: string): string {
  if (v.length === 0 || v === '\\.') return `"${v}"`;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 44 || c === 34 || c === 10 || c === 13) return `"${v.replace(/"/g, '""')}"`;
  }
  return v;
}

function copyStatement(table: string, columns: string[], from: string): string {
  return `COPY ${table} (${columns.map(quoteIdent).join(', ')}) FROM ${from} WITH (FORMAT csv)`;
}

/**
 * Runs on a load's own connection just before it commits, inside its transaction: a fence (the LOCAL
 * executor checks, and locks, its lease on the run there). Rejecting rolls the whole load back, and
 * the commit rejects with that error.
 */
export type BeforeCommit = (client: Pick<PoolClient, 'query'>) => Promise<void>;

/** Options of {@link makePgSink}. */
export interface PgSinkOptions {
  /** See {@link BeforeCommit}. Default: none. */
  beforeCommit?: BeforeCommit;
}

/**
 * A sink on a node-postgres pool that loads a whole ingest in one transaction: the table it creates
 * and every row appear together at {@link LoadSink.commit}, or not at all — a run that fails half
 * way and is retried never leaves the rows of its first attempt behind. Each batch is one
 * `COPY ... FROM STDIN` through pg-copy-streams (honouring the socket's back-pressure) inside a
 * savepoint, so a batch the database refuses is undone alone and the engine can bisect it. One
 * client is held from the first statement to commit/rollback; when a copy is still running (an
 * aborted ingest, a COPY waiting on a lock) rollback discards the connection, which makes the
 * server roll back. With `opts.beforeCommit`, nothing commits unless it resolves in the same
 * transaction. The pool is not closed by the sink.
 */
export function makePgSink(pool: Pool, opts: PgSinkOptions = {}): LoadSink {
  let client: PoolClient | null = null;
  let opening: Promise<PoolClient> | null = null;
  let broken: Error | undefined;
  let copying = 0;
  let savepoints = 0;
  const onError = (err: Error) => (broken ??= err);
  const tx = (): Promise<PoolClient> =>
    (opening ??= (async () => {
      const c = await pool.connect();
      // The server cutting this connection mid-load emits 'error' on it with nobody listening,
      // which would crash the process: note it instead (the load's next statement fails, TRANSIENT).
      c.on('error', onError);
      try {
        await c.query('BEGIN');
      } catch (err) {
        c.off('error', onError);
        c.release(err as Error);
        throw err;
      }
      return (client = c);
    })());
  const end = async (asked: 'COMMIT' | 'ROLLBACK'): Promise<void> => {
    const c = client ?? (opening ? await opening.catch(() => null) : null);
    client = null;
    opening = null;
    if (!c) return;
    if (asked === 'ROLLBACK' && (copying > 0 || broken)) {
      c.off('error', onError);
      return void c.release(broken ?? new Error('ingest aborted during COPY'));
    }
    let how = asked;
    let refusal: Error | null = null;
    if (how === 'COMMIT' && opts.beforeCommit) {
      try {
        await opts.beforeCommit(c);
      } catch (err) {
        refusal = err instanceof Error ? err : new Error(String(err));
        how = 'ROLLBACK';
      }
    }
    try {
      await c.query(how);
      // The pooled connection outlives this load: its listener goes with the load (the pool listens while it idles).
      c.off('error', onError);
      c.release();
    } catch (err) {
      c.off('error', onError);
      c.release(err as Error);
      if (how === 'COMMIT') throw err;
    } finally {
      broken = undefined;
    }
    if (refusal) throw refusal;
  };
  const copy = async (table: string, columns: string[], data: readonly Buffer[]): Promise<number> => {
    const c = await tx();
    const savepoint = `jobwire_batch_${++savepoints}`;
    await c.query(`SAVEPOINT ${savepoint}`);
    copying++;
    try {
      const stream = c.query(copyFrom(copyStatement(table, columns, 'STDIN')));
      // pipeline() waits for the socket to drain between pieces and sends CopyFail if anything breaks.
      await pipeline(Readable.from(data), stream);
      copying--;
      await c.query(`RELEASE SAVEPOINT ${savepoint}`);
      return stream.rowCount;
    } catch (err) {
      if (copying > 0) copying--;
      // A server-side error (SQLSTATE) leaves the transaction usable once rolled back to the
      // savepoint; anything else (a socket error) may not, and the connection is discarded.
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !broken) {
        await c.query(`ROLLBACK TO SAVEPOINT ${savepoint}`).catch((e: Error) => (broken = e));
      } else {
        broken = err as Error;
      }
      throw err;
    }
  };
  return {
    async query<T>(sql: string, params?: unknown[]) {
      const res = await (await tx()).query(sql, params as unknown[] | undefined);
      return { rows: res.rows as T[] };
    },
    async atomic<T>(work: () => Promise<T>) {
      const c = await tx();
      const savepoint = `jobwire_step_${++savepoints}`;
      await c.query(`SAVEPOINT ${savepoint}`);
      try {
        const result = await work();
        await c.query(`RELEASE SAVEPOINT ${savepoint}`);
        return result;
      } catch (err) {
        await c.query(`ROLLBACK TO SAVEPOINT ${savepoint}`).catch((e: Error) => (broken = e));
        throw err;
      }
    },
    copyCsv: (table, columns, data, rowCount) => (rowCount === 0 ? Promise.resolve(0) : copy(table, columns, data)),
    commit: () => end('COMMIT'),
    rollback: () => end('ROLLBACK').catch(() => undefined),
    close: () => end('ROLLBACK').catch(() => undefined),
  };
}

/** Bytes of one COPY on PGlite: about 15 ms of PostgreSQL work, which blocks the whole process (WASM is synchronous). */
export const PGLITE_COPY_BYTES = 64 * 1024;

/**
 * A sink on an embedded PGlite database: each copy puts the encoded rows into a Blob and runs
 * `COPY ... FROM '/dev/blob'` with PGlite's `blob` query option (never one INSERT per row); each
 * copy commits by itself. The database is not closed by the sink.
 *
 * PGlite is one session, shared with the rest of the gateway (the ORM), and runs each statement
 * synchronously on the event loop. So that the gateway stays responsive during a load, batches go
 * over in COPYs of at most {@link PGLITE_COPY_BYTES}, and before each statement the sink yields to
 * the event loop (a chain of PGlite statements otherwise runs as one long microtask chain, starving
 * timers and sockets). `db` must be the session's gate (`PgliteGate.facade()`, what the composition
 * root passes): a statement never lands inside a transaction someone else has open on the session,
 * where it would be rolled back with it, or a row it refuses would abort it.
 */
export function makePgliteSink(db: PGlite): LoadSink {
  const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  const copy = async (table: string, columns: string[], parts: readonly Buffer[], rowCount: number): Promise<number> => {
    const blob = new Blob([...parts] as BlobPart[]);
    await turn();
    const res = await db.query(copyStatement(table, columns, `'/dev/blob'`), [], { blob });
    return res.affectedRows ?? rowCount;
  };
  return {
    async query<T>(sql: string, params?: unknown[]) {
      await turn();
      const res = await db.query<T>(sql, params as unknown[] | undefined);
      return { rows: res.rows };
    },
    copyCsv: (table, columns, data, rowCount) => (rowCount === 0 ? Promise.resolve(0) : copy(table, columns, data, rowCount)),
    maxCopyBytes: PGLITE_COPY_BYTES,
  };
}
