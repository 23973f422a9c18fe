import { openPostgres } from '../../src/db/orm';
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
