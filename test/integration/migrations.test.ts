import { Client } from 'pg';
import { migrate, openPostgres } from '../../src/db/orm';
import { createTestDatabase } from '../helpers/db';

describe('migrations', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase('migr');
  });
  afterAll(() => db.drop());

  it('match the entities: a database migrated by the committed migrations needs no new one', async () => {
    const { orm, close } = await openPostgres(db.url);
    try {
      const needed = await orm.getMigrator().checkMigrationNeeded();
      if (needed) throw new Error('Entities changed without a migration: run `npm run migration:create -- <name>` and commit it');
      expect(await orm.getMigrator().getPendingMigrations()).toEqual([]);
    } finally {
      await close();
    }
  });

  it('match the committed snapshot, so the next migration is diffed against the right schema', async () => {
    // With the snapshot on, MikroORM diffs the entities against migrations/.snapshot-jobwire.json.
    const { orm, close } = await openPostgres(db.url, { snapshot: true });
    try {
      const needed = await orm.getMigrator().checkMigrationNeeded();
      if (needed) throw new Error('migrations/.snapshot-jobwire.json is stale: run `npm run migration:create -- <name>` and commit it');
      expect(needed).toBe(false);
    } finally {
      await close();
    }
  });
});

describe("jobwire's own schema", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  afterEach(() => db?.drop());

  it('holds every jobwire table and the migration history on a new database; public holds none', async () => {
    db = await createTestDatabase('schemanew');
    const tables = await tablesBySchema(db.url);
    expect(tables.public ?? []).toEqual([]);
    expect(tables.jobwire).toEqual(expect.arrayContaining(['jobs', 'runs', 'run_stages', 'run_logs', 'mikro_orm_migrations']));
  });

  it('receives the tables, their rows and the history of a database migrated before it existed', async () => {
    db = await createTestDatabase('schemaold');
    // The old layout: everything in public, as the migrations before this one left it.
    await withClient(db.url, async (c) => {
      await c.query('alter table jobwire.mikro_orm_migrations set schema public');
      for (const t of (await tablesBySchema(db.url)).jobwire ?? []) await c.query(`alter table jobwire.${t} set schema public`);
      await c.query(`delete from public.mikro_orm_migrations where name = 'Migration20261202123000_jobwire_schema'`);
      await c.query('drop schema jobwire');
      await c.query(
        `insert into public.jobs (id, name, tags, source, destination, processing, compute, created_at, updated_at)
         values (gen_random_uuid(), 'kept', '[]', '{}', '{}', '{}', '{}', now(), now())`,
      );
    });
    const opened = await openPostgres(db.url);
    try {
      expect(await migrate(opened.orm)).toEqual(['Migration20261202123000_jobwire_schema']);
      const tables = await tablesBySchema(db.url);
      expect(tables.public ?? []).toEqual([]);
      expect(tables.jobwire).toEqual(expect.arrayContaining(['jobs', 'runs', 'mikro_orm_migrations']));
      // The gateway's plain SQL finds them unqualified, rows and all.
      expect(await opened.sql.query('select name from jobs')).toEqual([{ name: 'kept' }]);
      expect(await opened.orm.getMigrator().getPendingMigrations()).toEqual([]);
    } finally {
      await opened.close();
    }
  });
});

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Base tables per schema, user schemas only, names sorted. */
async function tablesBySchema(url: string): Promise<Record<string, string[]>> {
  const rows = await withClient(url, (c) =>
    c.query<{ schema: string; tables: string[] }>(
      `select table_schema as schema, array_agg(table_name::text order by table_name) as tables
         from information_schema.tables
        where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')
        group by table_schema`,
    ),
  );
  return Object.fromEntries(rows.rows.map((r) => [r.schema, r.tables]));
}
