/**
 * Creates a migration from the difference between the entities and migrations/.snapshot-jobwire.json,
 * using a scratch PostgreSQL database, then rewrites migrations/index.ts to list every migration.
 *   npm run migration:create -- [name]        (ADMIN_DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/postgres)
 *   npm run migration:check                   exits 1 when the entities changed without a migration
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { migrate, openPostgres } from '../src/db/orm';

const admin = process.env.ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const dir = path.resolve(__dirname, '../migrations');

async function main() {
  const check = process.argv.includes('--check');
  const name = process.argv.slice(2).find((a) => !a.startsWith('--'));
  const scratch = `jobwire_migration_${process.pid}`;
  const client = new Client({ connectionString: admin });
  await client.connect();
  await client.query(`create database ${scratch}`);
  const url = new URL(admin);
  url.pathname = `/${scratch}`;
  const db = await openPostgres(url.toString(), { snapshot: true });
  try {
    // Applying migrations makes MikroORM rewrite the snapshot from the live database; the committed
    // snapshot (the entities as of the last migration) is what new migrations are diffed against.
    const snapshotFile = path.join(dir, '.snapshot-jobwire.json');
    const snapshot = fs.existsSync(snapshotFile) ? fs.readFileSync(snapshotFile) : undefined;
    await migrate(db.orm);
    if (snapshot) fs.writeFileSync(snapshotFile, snapshot);
    const migrator = db.orm.getMigrator();
    if (check) {
      const needed = await migrator.checkMigrationNeeded();
      console.log(needed ? 'Entities changed without a migration: run npm run migration:create' : 'Migrations are up to date.');
      process.exitCode = needed ? 1 : 0;
      return;
    }
    const result = await migrator.createMigration(dir, false, (await migrator.getExecutedMigrations()).length === 0, name);
    console.log(result.fileName ? `Created ${result.fileName}` : 'No changes: nothing created.');
    writeIndex();
  } finally {
    await db.close();
    await client.query(`drop database if exists ${scratch} with (force)`);
    await client.end();
  }
}

function writeIndex() {
  const files = fs
    .readdirSync(dir)
    .filter((f) => /^Migration\d+.*\.ts$/.test(f))
    .sort()
    .map((f) => f.replace(/\.ts$/, ''));
  const lines = [
    "import type { MigrationObject } from '@mikro-orm/core';",
    ...files.map((f) => `import { ${className(f)} } from './${f}';`),
    '',
    '/** Every migration, in order. Written by `npm run migration:create`; do not edit by hand. */',
    'export const MIGRATIONS: MigrationObject[] = [',
    ...files.map((f) => `  { name: '${f}', class: ${className(f)} },`),
    '];',
    '',
  ];
  fs.writeFileSync(path.join(dir, 'index.ts'), lines.join('\n'));
}

function className(file: string) {
  const src = fs.readFileSync(path.join(dir, `${file}.ts`), 'utf8');
  return /export class (\w+)/.exec(src)![1];
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
