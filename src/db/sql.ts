/**
 * Plain SQL for the hot paths (the run-event writer and the read side): statements with `$n`
 * placeholders, rows as the driver returns them, no unit of work and no entity hydration. On
 * PostgreSQL a named statement is prepared once per connection (parsed and planned once, then only
 * executed); on PGlite every statement goes through the session gate shared with the ORM, so the
 * single connection is never used by two transactions at once.
 *
 * MikroORM stays the schema's owner (entities, migrations) and serves the rest of the code.
 */
import type { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';
import type { Pool, PoolClient } from 'pg';
import type { PgliteGate } from './pglite-gate';

/** Something that runs statements: the database, or one transaction on it. */
export interface SqlExecutor {
  /**
   * Runs one statement and returns its rows. With `name` the statement is prepared once per
   * connection and reused (give each distinct text its own name). Rejects with the driver's error
   * (its `code` is the SQLSTATE).
   */
  query<T = Record<string, unknown>>(text: string, values?: readonly unknown[], name?: string, opts?: QueryOptions): Promise<T[]>;
  /**
   * Runs several statements, in order, and returns each one's rows. On PostgreSQL inside a
   * transaction, statements prepared earlier travel together in one round trip.
   */
  queries(statements: readonly Statement[], opts?: QueryOptions): Promise<unknown[][]>;
}

/** One statement for {@link SqlExecutor.queries}. */
export interface Statement {
  text: string;
  values?: readonly unknown[];
  /** Its name, to prepare it once per connection (see {@link SqlExecutor.query}). */
  name?: string;
}

/** `queries` for executors that run one statement at a time. */
async function oneByOne(ex: Pick<SqlExecutor, 'query'>, statements: readonly Statement[], opts: QueryOptions = {}): Promise<unknown[][]> {
  const out: unknown[][] = [];
  for (let i = 0; i < statements.length; i++) {
    const st = statements[i];
    out.push(await ex.query(st.text, st.values, st.name, i === statements.length - 1 ? opts : {}));
  }
  return out;
}

/** Hints for one statement of a transaction. */
export interface QueryOptions {
  /**
   * Nothing follows this statement in its transaction: the commit may travel with it (on
   * PostgreSQL, in the same round trip). The transaction still commits only if `fn` resolves.
   */
  last?: boolean;
}

/** The database for plain SQL. */
export interface Sql extends SqlExecutor {
  readonly kind: 'postgres' | 'pglite';
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back when it rejects (and the
   * rejection passed on). Serialization failures and deadlocks are not retried here.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
}

function pgExecutor(client: Pool | PoolClient): SqlExecutor {
  const ex: SqlExecutor = {
    async query<T>(text: string, values: readonly unknown[] = [], name?: string): Promise<T[]> {
      const r = await client.query(name ? { name, text, values: values as unknown[] } : { text, values: values as unknown[] });
      return r.rows as T[];
    },
    queries: (statements, opts) => oneByOne(ex, statements, opts),
  };
  return ex;
}

/**
 * Plain SQL on a connection whose transaction someone else holds (the LOCAL executor's load): its
 * statements join that transaction, which commits or rolls back with its owner.
 */
export function connectionExecutor(client: Pick<PoolClient, 'query'>): SqlExecutor {
  return pgExecutor(client as PoolClient);
}

// How `pg` turns a parameter into text (arrays, dates, JSON); not in its type declarations.
const { prepareValue } = require('pg/lib/utils') as { prepareValue(value: unknown): unknown };

/**
 * A SQL literal for a value, as PostgreSQL reads it with `standard_conforming_strings` on (the
 * default, and set on every connection of the pool): only quotes are doubled. Arrays, dates and
 * objects are first turned into text the way `pg` sends parameters.
 */
function literal(value: unknown): string {
  const v = prepareValue(value);
  if (v === null || v === undefined) return 'NULL';
  const text = Buffer.isBuffer(v) ? `\\x${v.toString('hex')}` : String(v);
  return `'${text.includes("'") ? text.replaceAll("'", "''") : text}'`;
}

/** Statements prepared (SQL `PREPARE`, apart from the driver's own named statements) on each connection. */
const preparedOn = new WeakMap<PoolClient, Set<string>>();
/** Every named statement a transaction has used, by name: prepared on each connection before its next transaction. */
const known = new Map<string, string>();

/**
 * One transaction on one pooled connection, in as few round trips as the statements allow:
 * statements known from earlier transactions run as `EXECUTE` of a plan prepared on the
 * connection, and travel in one simple-protocol message with the `BEGIN` before them (the first)
 * or the `COMMIT` after them (one marked `last`). A transaction of one read-and-lock and one write
 * costs two round trips instead of four.
 */
class PgTransaction implements SqlExecutor {
  private begun = false;
  committed = false;

  constructor(private readonly client: PoolClient) {}

  /** Prepares, before the transaction, every known statement this connection lacks. */
  async prepare(): Promise<void> {
    let mine = preparedOn.get(this.client);
    if (!mine) preparedOn.set(this.client, (mine = new Set()));
    for (const [name, text] of known) {
      if (mine.has(name)) continue;
      // Prepared statements outlive transactions (they are not rolled back): one try each is enough.
      await this.client.query(`PREPARE tx_${name} AS ${text}`);
      mine.add(name);
    }
  }

  async query<T>(text: string, values: readonly unknown[] = [], name?: string, opts: QueryOptions = {}): Promise<T[]> {
    return (await this.queries([{ text, values, name }], opts))[0] as T[];
  }

  async queries(statements: readonly Statement[], opts: QueryOptions = {}): Promise<unknown[][]> {
    if (this.committed) throw new Error('statement after the transaction committed');
    const mine = preparedOn.get(this.client);
    if (statements.every((st) => st.name && mine?.has(st.name))) {
      const parts = statements.map((st) => `EXECUTE tx_${st.name}${st.values?.length ? `(${st.values.map(literal).join(', ')})` : ''}`);
      const first = this.begun ? 0 : 1;
      if (!this.begun) parts.unshift('BEGIN');
      if (opts.last) parts.push('COMMIT');
      const results = (await this.client.query(parts.join('; '))) as unknown as pg.QueryResult | pg.QueryResult[];
      this.begun = true;
      if (opts.last) this.committed = true;
      const all = Array.isArray(results) ? results : [results];
      return statements.map((_, i) => all[first + i].rows);
    }
    // Not prepared here yet: the extended protocol this time, and prepared before the next transaction.
    if (!this.begun) {
      await this.client.query('BEGIN');
      this.begun = true;
    }
    const out: unknown[][] = [];
    for (const st of statements) {
      if (st.name) known.set(st.name, st.text);
      out.push((await this.client.query({ text: st.text, values: (st.values ?? []) as unknown[] })).rows);
    }
    if (opts.last) await this.commit();
    return out;
  }

  async commit(): Promise<void> {
    if (this.committed) return;
    if (this.begun) await this.client.query('COMMIT');
    this.committed = true;
  }
}

/** Plain SQL over a `pg` pool (its own connections, apart from the ORM's). */
export function makePgSql(pool: Pool): Sql {
  const direct = pgExecutor(pool);
  return {
    kind: 'postgres',
    query: direct.query,
    queries: direct.queries,
    async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken = false;
      // A connection the server cuts while it is checked out (a restart between two statements) emits
      // 'error' with nobody listening: that would crash the process. Note it; the next statement fails.
      const onError = () => (broken = true);
      client.on('error', onError);
      try {
        const tx = new PgTransaction(client);
        await tx.prepare();
        try {
          const result = await fn(tx);
          await tx.commit();
          return result;
        } catch (err) {
          if (!tx.committed) await client.query('ROLLBACK').catch(() => (broken = true));
          throw err;
        }
      } finally {
        client.off('error', onError);
        // A connection whose rollback failed (or that was cut) may be in any state: drop it rather than reuse it.
        client.release(broken);
      }
    },
  };
}

function pgliteExecutor(db: Pick<PGlite, 'query'>): SqlExecutor {
  const ex: SqlExecutor = {
    async query<T>(text: string, values: readonly unknown[] = []): Promise<T[]> {
      const r = await db.query<T>(text, values as unknown[]);
      return r.rows;
    },
    queries: (statements, opts) => oneByOne(ex, statements, opts),
  };
  return ex;
}

/** Plain SQL over the embedded PGlite, through the gate it shares with the ORM. */
export function makePgliteSql(gate: PgliteGate): Sql {
  const raw = pgliteExecutor(gate.pglite);
  return {
    kind: 'pglite',
    query: (text, values) => gate.exclusive(() => raw.query(text, values)),
    queries: (statements) => gate.exclusive(() => raw.queries(statements)),
    transaction: (fn) =>
      gate.exclusive(async () => {
        await gate.pglite.query('BEGIN');
        try {
          const result = await fn(raw);
          await gate.pglite.query('COMMIT');
          return result;
        } catch (err) {
          await gate.pglite.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
      }),
  };
}

/** SQLSTATEs worth one more try of the whole transaction: serialization failure, deadlock. */
export const RETRYABLE_SQLSTATES: ReadonlySet<string> = new Set(['40001', '40P01']);

/** Whether `err` is a serialization failure or a deadlock (see {@link RETRYABLE_SQLSTATES}). */
export function isRetryableTxError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && RETRYABLE_SQLSTATES.has(code);
}
