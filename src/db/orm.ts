import fs from 'node:fs';
import path from 'node:path';
import { MikroORM, type Options } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { PGlite } from '@electric-sql/pglite';
import { PGliteDriver } from 'mikro-orm-pglite';
import { Pool, types } from 'pg';
import { Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { ENTITIES } from './entities';
import { MIGRATIONS } from '../../migrations';
import { PgliteGate } from './pglite-gate';
import { makePgSql, makePgliteSql, type Sql } from './sql';
import { JOBWIRE_SCHEMA, MOVE_MIGRATION_HISTORY_SQL, SEARCH_PATH, SEARCH_PATH_OPTION } from './db-schema';

/** The ORM; its `em` is PostgreSQL's (PGlite speaks the same SQL). */
export type Orm = MikroORM & { em: EntityManager };

/** What the rest of the gateway needs from the database, whatever runs it. */
export interface Database {
  orm: Orm;
  kind: 'postgres' | 'pglite';
  /** Plain SQL for the hot paths (the run-event writer, reads): its own pool on PostgreSQL, the gate on PGlite. */
  sql: Sql;
  /**
   * The embedded database, when `kind` is `pglite`, as every user but the ORM must reach it:
   * through the gate, so that no statement lands inside somebody else's transaction.
   */
  pglite?: PGlite;
  /** The gate of the embedded database's one session (see {@link PgliteGate}). */
  gate?: PgliteGate;
  /** A plain `pg` pool for bulk loads (COPY), when `kind` is `postgres`. */
  pool?: Pool;
  close(): Promise<void>;
}

const MIGRATIONS_DIR = path.resolve(__dirname, '../../migrations');

/** MikroORM options shared by PostgreSQL, PGlite and the CLI. */
/**
 * `snapshot` is on only for `npm run migration:create`: at run time MikroORM would rewrite the committed
 * snapshot from the live database after every migration.
 */
export function baseOptions(opts: { snapshot?: boolean } = {}): Options<any> {
  return {
    entities: ENTITIES,
    // jobwire's tables (and the migration history) live in a schema of their own (src/db/db-schema.ts).
    schema: JOBWIRE_SCHEMA,
    extensions: [Migrator],
    allowGlobalContext: false,
    forceUtcTimezone: true,
    debug: false,
    migrations: {
      tableName: 'mikro_orm_migrations',
      path: MIGRATIONS_DIR,
      pathTs: MIGRATIONS_DIR,
      snapshot: opts.snapshot ?? false,
      snapshotName: '.snapshot-jobwire',
      migrationsList: MIGRATIONS,
      transactional: true,
      silent: true,
      allOrNothing: true,
      emit: 'ts',
      fileName: (timestamp: string, name?: string) => `Migration${timestamp}${name ? '_' + name : ''}`,
    },
  };
}

/** Which pool of {@link openPostgres} a connection error came from. */
export type PoolName = 'sql' | 'copy';

/**
 * Opens PostgreSQL at `url`. Throws when it cannot connect. `onPoolError` hears of pooled
 * connections that die while idle (the server restarted or cut them): the pool drops them and opens
 * new ones when next needed, so this is news for the log, never a crash. (The ORM's own pool, knex,
 * notes such errors on each connection itself and discards the connection.)
 */
export async function openPostgres(
  url: string,
  opts: { poolSize?: number; sqlPoolSize?: number; snapshot?: boolean; onPoolError?: (err: Error, pool: PoolName) => void } = {},
): Promise<Database> {
  const orm = (await MikroORM.init({
    ...baseOptions({ snapshot: opts.snapshot }),
    driver: PostgreSqlDriver,
    clientUrl: url,
    pool: { min: 0, max: opts.poolSize ?? 10 },
    driverOptions: { connection: { options: SEARCH_PATH_OPTION } },
  })) as Orm;
  const pool = new Pool({ connectionString: url, max: 4, options: SEARCH_PATH_OPTION });
  // bigint columns (log sequence numbers) fit in a double: read them as numbers.
  const sqlPool = new Pool({
    connectionString: url,
    max: opts.sqlPoolSize ?? 10,
    // Transactions send literals (src/db/sql.ts): with standard strings, quotes are all they escape.
    // The hot statements are prepared once per connection: planned once too (their plans do not
    // depend on the values), not re-planned on every execution.
    options: `-c standard_conforming_strings=on -c plan_cache_mode=force_generic_plan ${SEARCH_PATH_OPTION}`,
    types: {
      getTypeParser: (oid: number, format?: string) => (oid === types.builtins.INT8 ? Number : types.getTypeParser(oid, format as never)),
    } as never,
  });
  // An idle connection that dies (server restart) must not crash the process: without a listener
  // the pool's 'error' event would throw.
  sqlPool.on('error', (err) => opts.onPoolError?.(err, 'sql'));
  pool.on('error', (err) => opts.onPoolError?.(err, 'copy'));
  return {
    orm,
    kind: 'postgres',
    pool,
    sql: makePgSql(sqlPool),
    async close() {
      await Promise.allSettled([orm.close(true), pool.end(), sqlPool.end()]);
    },
  };
}

/** Opens (creating when missing) the embedded PGlite database in `dataDir`; `dataDir` undefined = in memory. */
export async function openPglite(dataDir: string | undefined): Promise<Database> {
  if (dataDir) fs.mkdirSync(dataDir, { recursive: true });
  const pglite = new PGlite(dataDir ? path.join(dataDir, 'pgdata') : undefined);
  await pglite.waitReady;
  // The one session of the embedded database: its search_path holds for every statement.
  await pglite.exec(`set search_path to ${SEARCH_PATH}`);
  const gate = new PgliteGate(pglite);
  const orm = (await MikroORM.init({
    ...baseOptions(),
    driver: PGliteDriver,
    dbName: 'postgres',
    driverOptions: { connection: { pglite: () => gate.facade() } },
  })) as unknown as Orm;
  return {
    orm,
    kind: 'pglite',
    sql: makePgliteSql(gate),
    pglite: gate.facade(),
    gate,
    async close() {
      await orm.close(true).catch(() => undefined);
      await pglite.close();
    },
  };
}

/** Applies pending migrations; returns the names applied. */
export async function migrate(orm: Orm): Promise<string[]> {
  await orm.em.getConnection().execute(MOVE_MIGRATION_HISTORY_SQL);
  const applied = await orm.getMigrator().up();
  return applied.map((m) => m.name);
}
