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
import type { Pool, PoolClient } from 'pg';
import type { PgliteGate } from './pglite-gate';

/** Something that runs statements: the database, or one transaction on it. */
export interface SqlExecutor {
  /**
   * Runs one statement and returns its rows. With `name` the statement is prepared once per
   * connection and reused (give each distinct text its own name). Rejects with the driver's error
   * (its `code` is the SQLSTATE).
   */
  query<T = Record<string, unknown>>(text: string, values?: readonly unknown[], name?: string): Promise<T[]>;
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
  return {
    async query<T>(text: string, values: readonly unknown[] = [], name?: string): Promise<T[]> {
      const r = await client.query(name ? { name, text, values: values as unknown[] } : { text, values: values as unknown[] });
      return r.rows as T[];
    },
  };
}

/** Plain SQL over a `pg` pool (its own connections, apart from the ORM's). */
export function makePgSql(pool: Pool): Sql {
  const direct = pgExecutor(pool);
  return {
    kind: 'postgres',
    query: direct.query,
    async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query('BEGIN');
        try {
          const result = await fn(pgExecutor(client));
          await client.query('COMMIT');
          return result;
        } catch (err) {
          await client.query('ROLLBACK').catch(() => (broken = true));
          throw err;
        }
      } finally {
        // A connection whose rollback failed may be in any state: drop it rather than reuse it.
        client.release(broken);
      }
    },
  };
}

function pgliteExecutor(db: Pick<PGlite, 'query'>): SqlExecutor {
  return {
    async query<T>(text: string, values: readonly unknown[] = []): Promise<T[]> {
      const r = await db.query<T>(text, values as unknown[]);
      return r.rows;
    },
  };
}

/** Plain SQL over the embedded PGlite, through the gate it shares with the ORM. */
export function makePgliteSql(gate: PgliteGate): Sql {
  const raw = pgliteExecutor(gate.pglite);
  return {
    kind: 'pglite',
    query: (text, values) => gate.exclusive(() => raw.query(text, values)),
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
