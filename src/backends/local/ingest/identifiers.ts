/** SQL identifier hygiene: destination names are validated, source column names sanitised. */
import { permanent } from './errors';

/** PostgreSQL truncates identifiers beyond NAMEDATALEN-1 bytes. */
export const MAX_IDENTIFIER_LENGTH = 63;

const OBJECT_NAME = /^[A-Za-z0-9_]{1,63}$/;

/** Whether `name` is acceptable as a destination schema/table name: letters, digits, underscore, 1-63 chars. */
export function isValidObjectName(name: unknown): name is string {
  return typeof name === 'string' && OBJECT_NAME.test(name);
}

/**
 * Validates a destination and returns it quoted (`"schema"."table"`, case kept).
 * Throws IngestError PERMANENT naming the offending part when a name is invalid.
 */
export function quoteDestination(schema: unknown, table: unknown): string {
  if (!isValidObjectName(schema))
    throw permanent(`invalid destination schema name ${JSON.stringify(schema)}: use 1-63 letters, digits or underscores`);
  if (!isValidObjectName(table))
    throw permanent(`invalid destination table name ${JSON.stringify(table)}: use 1-63 letters, digits or underscores`);
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

/** Double-quotes an identifier, doubling embedded quotes. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Turns a source column name into a safe lowercase identifier: accents are stripped, runs of other
 * characters become `_` (none at either end), a leading digit gets a `c_` prefix, the result is cut
 * to 63 characters; an empty result becomes `column_<position>` (1-based). Never throws.
 */
export function sanitizeIdentifier(raw: string, position: number): string {
  let s = String(raw)
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    // Spaces first so trim() drops only separators we introduced, not the source's own underscores.
    .replace(/[^a-z0-9_]+/g, ' ')
    .trim()
    .replace(/ +/g, '_');
  if (s.length === 0) s = `column_${position}`;
  if (s.charCodeAt(0) >= 48 && s.charCodeAt(0) <= 57) s = `c_${s}`;
  return s.slice(0, MAX_IDENTIFIER_LENGTH);
}

/**
 * Sanitises a list of column names ({@link sanitizeIdentifier}) and makes them unique by suffixing
 * `_2`, `_3`... to repeats (cutting the base so the result still fits 63 characters).
 */
export function sanitizeColumnNames(raw: readonly string[]): string[] {
  const seen = new Set<string>();
  return raw.map((name, i) => {
    const base = sanitizeIdentifier(name, i + 1);
    let candidate = base;
    for (let n = 2; seen.has(candidate); n++) {
      const suffix = `_${n}`;
      candidate = base.slice(0, MAX_IDENTIFIER_LENGTH - suffix.length) + suffix;
    }
    seen.add(candidate);
    return candidate;
  });
}
