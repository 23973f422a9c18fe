import type { SqlExecutor } from './sql';

/** Idempotency keys are honoured this long: the same key after that is a new call. */
export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

/**
 * Claims an idempotency key in `scope` for `resultId`, unless it was claimed within `ttlMs`: then
 * returns what the first claim recorded. Concurrent claims of one key wait for each other (the
 * primary key), so exactly one of them wins.
 */
export async function claimIdempotencyKey(
  tx: SqlExecutor,
  k: { scope: string; key: string; resultId: string; attempt?: number | null; now: Date; ttlMs?: number },
): Promise<{ fresh: true } | { fresh: false; resultId: string; attempt: number | null }> {
  const won = await tx.query(
    `insert into idempotency_keys (scope, key, result_id, attempt, created_at) values ($1, $2, $3, $4, $5)
     on conflict (scope, key) do update set result_id = excluded.result_id, attempt = excluded.attempt, created_at = excluded.created_at
       where idempotency_keys.created_at < $6
     returning 1`,
    [k.scope, k.key, k.resultId, k.attempt ?? null, k.now, new Date(k.now.getTime() - (k.ttlMs ?? IDEMPOTENCY_TTL_MS))],
    'jobwire_claim_key',
  );
  if (won.length) return { fresh: true };
  const rows = await tx.query<{ resultId: string; attempt: number | null }>(
    'select result_id as "resultId", attempt from idempotency_keys where scope = $1 and key = $2',
    [k.scope, k.key],
    'jobwire_read_key',
  );
  return { fresh: false, resultId: rows[0].resultId, attempt: rows[0].attempt };
}

/** Sets the attempt an idempotency key records (a manual retry knows it only after applying). */
export async function setKeyAttempt(tx: SqlExecutor, scope: string, key: string, attempt: number): Promise<void> {
  await tx.query('update idempotency_keys set attempt = $3 where scope = $1 and key = $2', [scope, key, attempt], 'jobwire_key_attempt');
}
