/**
 * Where jobwire keeps its own tables: a PostgreSQL schema of its own, so that no job's destination
 * (a `schema.table` in the same database) can be one of them. Every connection the gateway opens has
 * `search_path` = this schema first, then `public`, so plain SQL names its tables unqualified.
 */
export const JOBWIRE_SCHEMA = 'jobwire';

/** The `search_path` of every gateway connection. */
export const SEARCH_PATH = `${JOBWIRE_SCHEMA}, public`;

/** The libpq `options` that set {@link SEARCH_PATH} when a connection opens. */
export const SEARCH_PATH_OPTION = `-c search_path=${JOBWIRE_SCHEMA},public`;

/**
 * Schemas no job may write into: jobwire's own, and PostgreSQL's (`pg_catalog`, `pg_toast`,
 * `information_schema`, every `pg_*`). Compared case-insensitively: a quoted `"Jobwire"` would be
 * another schema, but nobody means that.
 */
export function isReservedSchema(name: string): boolean {
  const n = name.toLowerCase();
  return n === JOBWIRE_SCHEMA || n === 'information_schema' || n.startsWith('pg_');
}

/**
 * Before the migrator looks for its history: databases migrated before jobwire had a schema of its
 * own keep `mikro_orm_migrations` in `public`; move it (idempotent, one statement).
 */
export const MOVE_MIGRATION_HISTORY_SQL = `do $$ begin
  if to_regclass('public.mikro_orm_migrations') is not null and to_regclass('${JOBWIRE_SCHEMA}.mikro_orm_migrations') is null then
    create schema if not exists ${JOBWIRE_SCHEMA};
    alter table public.mikro_orm_migrations set schema ${JOBWIRE_SCHEMA};
  end if;
end $$;`;
