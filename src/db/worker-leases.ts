import type { SqlExecutor } from './sql';

/**
 * Takes or renews the lease `name` for `owner` until `now + ttlMs`: true when `owner` holds it now
 * (it was free, expired, or already ours). One statement, so two replicas racing for a free lease
 * cannot both win.
 */
export async function holdLease(sql: SqlExecutor, name: string, owner: string, now: Date, ttlMs: number): Promise<boolean> {
  const rows = await sql.query<{ owner: string }>(
    `insert into worker_leases (name, owner, expires_at) values ($1, $2, $3)
     on conflict (name) do update set owner = excluded.owner, expires_at = excluded.expires_at
       where worker_leases.owner = excluded.owner or worker_leases.expires_at < $4
     returning owner`,
    [name, owner, new Date(now.getTime() + ttlMs), now],
    'jobwire_hold_lease',
  );
  return rows.length === 1;
}

/** Gives the lease up (a replica stopping), so another takes it at once instead of after its time to live. */
export async function releaseLease(sql: SqlExecutor, name: string, owner: string): Promise<void> {
  await sql.query('delete from worker_leases where name = $1 and owner = $2', [name, owner], 'jobwire_release_lease');
}
