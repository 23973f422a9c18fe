/** Destination table: reading an existing table's columns, or creating it from inferred ones. */
import { fromDbError } from './errors';
import { quoteIdent } from './identifiers';
import { displayPgType, kindOfPgType, sqlTypeOfKind } from './infer';
import type { LoadSink } from './sinks';
import type { LogLevel } from './types';

/** A destination column as the engine sees it. */
export interface TargetColumn {
  name: string;
  /** SQL type for display (`BIGINT`, `TIMESTAMPTZ`...). */
  type: string;
  /** Internal kind (values.ts) driving conversion. */
  kind: number;
}

/**
 * Columns of `schema.table` in ordinal order, or null when the table does not exist (or is not
 * visible to the current user). Database failures => IngestError (TRANSIENT or PERMANENT).
 */
export async function readTableColumns(sink: LoadSink, schema: string, table: string): Promise<TargetColumn[] | null> {
  let rows: { column_name: string; data_type: string }[];
  try {
    ({ rows } = await sink.query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns
        WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
      [schema, table],
    ));
  } catch (err) {
    throw fromDbError(err, `reading the columns of ${quoteIdent(schema)}.${quoteIdent(table)}`);
  }
  if (rows.length === 0) return null;
  return rows.map((r) => ({ name: r.column_name, type: displayPgType(r.data_type), kind: kindOfPgType(r.data_type) }));
}

/** SQLSTATEs of a CREATE that lost a race with a concurrent one: unique_violation, duplicate_table, duplicate_schema. */
const CREATE_COLLISIONS = new Set(['23505', '42P07', '42P06']);
/** Creation attempts before a collision counts as a failure (each retry follows someone else's commit). */
const CREATE_ATTEMPTS = 3;

/**
 * Returns the destination's columns, creating schema and table (`IF NOT EXISTS`) from `proposed`
 * when the table does not exist yet. Database failures => IngestError (TRANSIENT or PERMANENT).
 *
 * Concurrent loads into the same new table: with a transactional sink (PostgreSQL) the DDL runs in
 * the load's own transaction, so a failed attempt leaves no table behind. The price: a second load
 * creating the same table waits in its CREATE until the first load commits or rolls back, then
 * PostgreSQL refuses its CREATE (a catalog unique violation). That error is undone alone, through
 * {@link LoadSink.atomic} (a savepoint; without it the load's transaction would be aborted), and
 * the table is looked up again: the second load appends to the table the first one created (or
 * creates it itself when the first rolled back). First loads into one new table are therefore
 * serialised, not concurrent; loads into an existing table are not affected.
 */
export async function ensureTable(
  sink: LoadSink,
  schema: string,
  table: string,
  proposed: { name: string; kind: number }[],
  log: (level: LogLevel, message: string) => void,
): Promise<{ columns: TargetColumn[]; created: boolean }> {
  const qualified = `${quoteIdent(schema)}.${quoteIdent(table)}`;
  const ddl = proposed.map((c) => `${quoteIdent(c.name)} ${sqlTypeOfKind(c.kind)}`).join(', ');
  const create = async () => {
    // Only when missing: CREATE SCHEMA IF NOT EXISTS still needs CREATE privilege on the database.
    const ns = await sink.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (ns.rows.length === 0) await sink.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await sink.query(`CREATE TABLE IF NOT EXISTS ${qualified} (${ddl})`);
  };
  for (let attempt = 1; ; attempt++) {
    const existing = await readTableColumns(sink, schema, table);
    if (existing) {
      log('INFO', `table ${qualified} exists; using its columns: ${describeColumns(existing)}`);
      return { columns: existing, created: false };
    }
    try {
      await (sink.atomic ? sink.atomic(create) : create());
      break;
    } catch (err) {
      // Lost a race with a concurrent CREATE (IF NOT EXISTS does not prevent it): look again.
      const code = (err as { code?: unknown }).code;
      if (typeof code !== 'string' || !CREATE_COLLISIONS.has(code) || attempt >= CREATE_ATTEMPTS)
        throw fromDbError(err, `creating table ${qualified}`);
      log('INFO', `${qualified} was being created by another load at the same time; looking it up again`);
    }
  }
  const columns = await readTableColumns(sink, schema, table);
  if (!columns) throw fromDbError(new Error('table not visible after CREATE TABLE'), `creating table ${qualified}`);
  log('INFO', `created table ${qualified} (${describeColumns(columns)})`);
  return { columns, created: true };
}

/** `name TYPE, name TYPE...` for logs. */
export function describeColumns(columns: { name: string; type: string }[]): string {
  return columns.map((c) => `${c.name} ${c.type}`).join(', ');
}
