/**
 * Relay-style keyset pagination helpers. Cursors are opaque to clients (base64url of JSON) and
 * carry the sort key of the last row seen, so a page costs one index range scan however deep it is,
 * and rows inserted meanwhile never shift a page.
 */
import type { Connection } from './jobs/job-input';
import { badInput } from './errors';

export const DEFAULT_PAGE_SIZE = 20;

/**
 * The page size for `first`: `def` (default 20, capped at `max`) when absent; BAD_USER_INPUT on
 * `field` when it is not an integer between 0 and `max`.
 */
export function pageSize(first: number | null | undefined, max: number, def = DEFAULT_PAGE_SIZE, field = 'first'): number {
  if (first === undefined || first === null) return Math.min(def, max);
  if (!Number.isInteger(first) || first < 0 || first > max) throw badInput(field, `must be an integer between 0 and ${max}`);
  return first;
}

/** An opaque cursor holding `value` (any JSON). */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/** The JSON value inside a cursor made by {@link encodeCursor}; BAD_USER_INPUT on `field` when it is not one. */
export function decodeCursor(cursor: string, field = 'after'): unknown {
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > 1000 || !/^[A-Za-z0-9_-]+$/.test(cursor)) {
    throw badInput(field, 'is not a cursor of this list');
  }
  try {
    return JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badInput(field, 'is not a cursor of this list');
  }
}

/** The position of a row in a `createdAt desc, id desc` list. */
export interface TimeKey {
  createdAt: Date;
  id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `s` looks like a uuid (ids of jobs and runs); other strings can never match a row. */
export const isUuid = (s: unknown): s is string => typeof s === 'string' && UUID.test(s);

export function encodeTimeCursor(key: TimeKey): string {
  return encodeCursor({ t: key.createdAt.toISOString(), id: key.id });
}

/** The key inside a time cursor, null for no cursor; BAD_USER_INPUT on `field` when malformed. */
export function decodeTimeCursor(after: string | null | undefined, field = 'after'): TimeKey | null {
  if (after === undefined || after === null) return null;
  const v = decodeCursor(after, field) as { t?: unknown; id?: unknown } | null;
  const createdAt = typeof v?.t === 'string' ? new Date(v.t) : null;
  if (!createdAt || Number.isNaN(createdAt.getTime()) || !isUuid(v?.id)) throw badInput(field, 'is not a cursor of this list');
  return { createdAt, id: v.id };
}

/**
 * A connection from `rows` fetched with `limit + 1`: the extra row only tells whether another
 * page exists and is not returned.
 */
export function toConnection<T>(rows: T[], limit: number, cursorOf: (row: T) => string): Connection<T> {
  const page = rows.slice(0, limit);
  const edges = page.map((node) => ({ cursor: cursorOf(node), node }));
  return { edges, pageInfo: { hasNextPage: rows.length > limit, endCursor: edges.length ? edges[edges.length - 1].cursor : null } };
}

/** `s` escaped for use inside a LIKE pattern (with the default backslash escape). */
export function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}
