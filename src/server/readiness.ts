import { coerceError } from '../errors';
import type { Readiness } from './http';

/** One readiness check: resolves (or returns `'ok'`) when fine; rejects, or returns another string, saying why not. */
export type ReadinessCheck = () => Promise<unknown> | string;

/** How long one check may take before it counts as failed: a dependency that hangs is not ready either. */
export const READINESS_CHECK_TIMEOUT_MS = 2000;

/**
 * `/readyz` from named checks, run side by side: each reports `'ok'` or why not (the error's
 * message, or `timed out after 2000 ms`); ready only when all are `'ok'`. Never rejects.
 */
export function makeReadiness(checks: Record<string, ReadinessCheck | undefined>, timeoutMs = READINESS_CHECK_TIMEOUT_MS): Readiness {
  const run = async (check: ReadinessCheck): Promise<string> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        Promise.resolve().then(check),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return typeof result === 'string' ? result : 'ok';
    } catch (err) {
      return coerceError(err).message;
    } finally {
      clearTimeout(timer);
    }
  };
  return async () => {
    const entries = Object.entries(checks).filter((e): e is [string, ReadinessCheck] => e[1] !== undefined);
    const results = await Promise.all(entries.map(async ([name, check]) => [name, await run(check)] as const));
    const out = Object.fromEntries(results);
    return { ok: results.every(([, v]) => v === 'ok'), checks: out };
  };
}
