import { Client } from 'pg';
import { migrate, openPostgres } from '../../src/db/orm';
import { ADMIN_URL, templateName, templatePrefix, urlFor } from './db';

/**
 * Runs once per `jest` run: makes sure the migrated template database exists. Test files clone it
 * (CREATE DATABASE … TEMPLATE), which takes ~100 ms instead of migrating each time.
 */
export default async function globalSetup(): Promise<void> {
  const name = templateName();
  const c = new Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    const exists = await c.query('select 1 from pg_database where datname = $1', [name]);
    if (exists.rowCount) return;
    const building = `${name}_building_${process.pid}`;
    await c.query(`create database ${building}`);
    const db = await openPostgres(urlFor(building), { poolSize: 1 });
    try {
      await migrate(db.orm);
    } finally {
      await db.close();
    }
    // Rename only when complete, so an interrupted run never leaves a half-migrated template.
    await c.query(`alter database ${building} rename to ${name}`).catch(async (err) => {
      await c.query(`drop database if exists ${building} with (force)`);
      if (!/already exists/.test((err as Error).message)) throw err;
    });
    // This checkout's templates of earlier migration sets are dropped to keep the server tidy;
    // other checkouts' templates are theirs (they may be cloning them right now).
    const old = await c.query(`select datname from pg_database where starts_with(datname, $1) and datname <> $2`, [templatePrefix(), name]);
    for (const r of old.rows) await c.query(`drop database if exists ${r.datname} with (force)`).catch(() => undefined);
  } finally {
    await c.end();
    // MikroORM keeps entity metadata on globalThis; jest copies main-realm globals into every test
    // sandbox, where those cross-realm Maps break MetadataDiscovery. Leave nothing behind.
    for (const k of Object.getOwnPropertyNames(globalThis))
      if (k.startsWith('mikro-orm-')) delete (globalThis as Record<string, unknown>)[k];
  }
}
