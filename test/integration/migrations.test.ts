import { openPostgres } from '../../src/db/orm';
import { createTestDatabase } from '../helpers/db';

describe('migrations', () => {
  it('match the entities: no migration is needed after applying the committed ones', async () => {
    const db = await createTestDatabase('migr');
    const { orm, close } = await openPostgres(db.url);
    try {
      const needed = await orm.getMigrator().checkMigrationNeeded();
      if (needed) throw new Error('Entities changed without a migration: run `npm run migration:create -- <name>` and commit it');
      expect(needed).toBe(false);
      expect(await orm.getMigrator().getPendingMigrations()).toEqual([]);
    } finally {
      await close();
      await db.drop();
    }
  });
});
