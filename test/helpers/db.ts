import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';

/** Admin connection for creating test databases (the PostgreSQL this machine runs). */
export const ADMIN_URL = process.env.TEST_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * This checkout's mark in database names: a hash of its path, so two checkouts on one machine (and
 * one PostgreSQL) never touch each other's templates or test databases.
 */
export function checkoutId(): string {
  return crypto.createHash('sha1').update(path.resolve(__dirname, '../..')).digest('hex').slice(0, 6);
}

/** Prefix of this checkout's migrated templates: `jobwire_tpl_<checkout>_`. */
export function templatePrefix(): string {
  return `jobwire_tpl_${checkoutId()}_`;
}

/** Name of this checkout's migrated template database: changes whenever a migration changes. */
export function templateName(): string {
  const dir = path.resolve(__dirname, '../../migrations');
  const hash = crypto.createHash('sha1');
  for (const f of fs.readdirSync(dir).sort()) hash.update(f).update(fs.readFileSync(path.join(dir, f)));
  return `${templatePrefix()}${hash.digest('hex').slice(0, 10)}`;
}

export function urlFor(db: string): string {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${db}`;
  return u.toString();
}

async function admin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/**
 * A fresh database for one test file, cloned from the migrated template (see global-setup.ts).
 * Returns its URL and a `drop()` to call in afterAll.
 */
export async function createTestDatabase(label = 'db'): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = `jobwire_t_${checkoutId()}_${label.replace(/\W/g, '').slice(0, 16)}_${crypto.randomBytes(4).toString('hex')}`.toLowerCase();
  const template = templateName();
  await admin(async (c) => {
    for (let i = 0; ; i++) {
      try {
        await c.query(`create database ${name} template ${template}`);
        return;
      } catch (err) {
        // Two files cloning the template at the same instant: PostgreSQL refuses one; try again.
        if (i < 20 && /being accessed by other users/.test((err as Error).message)) {
          await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
          continue;
        }
        throw err;
      }
    }
  });
  return {
    url: urlFor(name),
    name,
    drop: () => admin(async (c) => void (await c.query(`drop database if exists ${name} with (force)`))),
  };
}

/** A unique Redis channel prefix, so test files sharing one Redis never see each other's events. */
export function uniqueRedisPrefix(label = 't'): string {
  return `jobwire:test:${label}:${crypto.randomBytes(4).toString('hex')}:`;
}
