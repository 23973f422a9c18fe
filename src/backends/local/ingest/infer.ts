/**
 * Column type inference from a sample of rows, and the mapping between SQL types and the internal
 * column kinds of `values.ts`.
 */
import {
  K_BOOL,
  K_DATE,
  K_FLOAT,
  K_INT,
  K_INT2,
  K_INT4,
  K_JSON,
  K_NULL,
  K_RAW,
  K_TEXT,
  K_TS,
  isFloat,
  parseBoolean,
  scanDateTime,
  scanInteger,
} from './values';
import { sanitizeColumnNames } from './identifiers';

/** SQL types the engine creates columns with. */
export type InferredType = 'BIGINT' | 'DOUBLE PRECISION' | 'BOOLEAN' | 'DATE' | 'TIMESTAMPTZ' | 'JSONB' | 'TEXT';

const KIND_SQL: Record<number, InferredType> = {
  [K_INT]: 'BIGINT',
  [K_FLOAT]: 'DOUBLE PRECISION',
  [K_BOOL]: 'BOOLEAN',
  [K_DATE]: 'DATE',
  [K_TS]: 'TIMESTAMPTZ',
  [K_JSON]: 'JSONB',
  [K_TEXT]: 'TEXT',
};

/** SQL type of an inferred kind; a column that was always NULL (kind 0) becomes TEXT. */
export function sqlTypeOfKind(kind: number): InferredType {
  return KIND_SQL[kind] ?? 'TEXT';
}

/**
 * Kind of a text value for inference. Empty => NULL (no vote). Integers with a leading zero such as
 * zip codes `02134` count as TEXT because a numeric column would silently drop the zeros; integers
 * beyond int64 count as DOUBLE PRECISION; only `true`/`false` (any case) count as BOOLEAN.
 */
export function classifyText(s: string): number {
  if (s.length === 0) return K_NULL;
  const c = s.charCodeAt(0);
  if ((c >= 48 && c <= 57) || c === 45 || c === 43 || c === 46 || c === 32) {
    const int = scanInteger(s);
    if (int !== 0) {
      const t = s.trim();
      const digits = t.charCodeAt(0) === 45 || t.charCodeAt(0) === 43 ? t.slice(1) : t;
      if (digits.length > 1 && digits.charCodeAt(0) === 48) return K_TEXT;
      return int === 1 ? K_INT : K_FLOAT;
    }
    if (isFloat(s)) return K_FLOAT;
    const dt = scanDateTime(s);
    return dt !== 0 ? dt : K_TEXT;
  }
  if (s === 'NaN' || s === 'Infinity') return K_FLOAT;
  if (parseBoolean(s, true) !== -1) return K_BOOL;
  return K_TEXT;
}

/** Kind of a parsed JSON value for inference: numbers, booleans, objects/arrays (JSONB), strings as {@link classifyText}. */
export function classifyJsonValue(v: unknown): number {
  if (v === null || v === undefined) return K_NULL;
  switch (typeof v) {
    case 'string':
      return classifyText(v);
    case 'number':
      return Number.isSafeInteger(v) ? K_INT : K_FLOAT;
    case 'boolean':
      return K_BOOL;
    case 'object':
      return K_JSON;
    default:
      return K_TEXT;
  }
}

/**
 * The narrowest kind holding values of both kinds: BIGINT+DOUBLE => DOUBLE, DATE+TIMESTAMPTZ =>
 * TIMESTAMPTZ, anything+JSONB => JSONB (scalars become JSON scalars), other mixes => TEXT.
 */
export function joinKinds(a: number, b: number): number {
  if (a === b || b === K_NULL) return a;
  if (a === K_NULL) return b;
  if ((a === K_INT && b === K_FLOAT) || (a === K_FLOAT && b === K_INT)) return K_FLOAT;
  if ((a === K_DATE && b === K_TS) || (a === K_TS && b === K_DATE)) return K_TS;
  if (a === K_JSON || b === K_JSON) return K_JSON;
  return K_TEXT;
}

/**
 * Share of a sample's non-empty values that may be plain text in a column otherwise typed
 * (numbers, dates, booleans) while the column keeps that type: real files carry a stray "n/a" or
 * "abc" in a numeric column, and such a row should count as one bad row rather than turn the whole
 * column into TEXT. Needs at least {@link MIN_VOTES} values to decide.
 */
export const OUTLIER_TOLERANCE = 0.02;
const MIN_VOTES = 20;

/** Accumulates the kinds seen per column over a sample. */
export class TypeInferrer {
  private readonly kinds: number[] = [];
  /** Join of every non-text kind seen: the type the column has if its text values are outliers. */
  private readonly typed: number[] = [];
  private readonly texts: number[] = [];
  private readonly votes: number[] = [];

  private observe(col: number, k: number): void {
    if (k === K_NULL) return;
    this.kinds[col] = joinKinds(this.kinds[col] ?? K_NULL, k);
    this.votes[col] = (this.votes[col] ?? 0) + 1;
    if (k === K_TEXT) this.texts[col] = (this.texts[col] ?? 0) + 1;
    else this.typed[col] = joinKinds(this.typed[col] ?? K_NULL, k);
  }

  /** Records a text value (CSV) of column `col`. */
  observeText(col: number, v: string): void {
    this.observe(col, classifyText(v));
  }

  /** Records a parsed JSON value of column `col`. */
  observeJson(col: number, v: unknown): void {
    this.observe(col, classifyJsonValue(v));
  }

  /**
   * Final kinds of `count` columns; never-seen or all-NULL columns are TEXT. A column whose text
   * values are at most {@link OUTLIER_TOLERANCE} of its values keeps the type of the others.
   */
  result(count: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < count; i++) {
      let kind = this.kinds[i] || K_TEXT;
      const typed = this.typed[i] ?? K_NULL;
      const votes = this.votes[i] ?? 0;
      if (
        kind === K_TEXT &&
        typed !== K_NULL &&
        typed !== K_TEXT &&
        votes >= MIN_VOTES &&
        (this.texts[i] ?? 0) <= votes * OUTLIER_TOLERANCE
      ) {
        kind = typed;
      }
      out.push(kind);
    }
    return out;
  }
}

/**
 * Internal kind for a column of an existing table, from `information_schema.columns.data_type`.
 * Types without a dedicated validator (uuid, numeric arrays, enums...) get K_RAW: values are passed
 * through and a database rejection makes the row bad.
 */
export function kindOfPgType(dataType: string): number {
  switch (dataType.toLowerCase()) {
    case 'bigint':
      return K_INT;
    case 'integer':
      return K_INT4;
    case 'smallint':
      return K_INT2;
    case 'double precision':
    case 'real':
    case 'numeric':
      return K_FLOAT;
    case 'boolean':
      return K_BOOL;
    case 'date':
      return K_DATE;
    case 'timestamp with time zone':
    case 'timestamp without time zone':
      return K_TS;
    case 'json':
    case 'jsonb':
      return K_JSON;
    case 'text':
    case 'character varying':
    case 'character':
      return K_TEXT;
    default:
      return K_RAW;
  }
}

const PG_TYPE_DISPLAY: Record<string, string> = {
  'timestamp with time zone': 'TIMESTAMPTZ',
  'timestamp without time zone': 'TIMESTAMP',
  'character varying': 'VARCHAR',
};

/** Short display name of an information_schema `data_type`, matching the names this engine creates. */
export function displayPgType(dataType: string): string {
  return PG_TYPE_DISPLAY[dataType] ?? dataType.toUpperCase();
}

/** Why `v` does not fit a column of `kind`, for the bad-row log (values cut to 40 characters). */
export function describeBadValue(column: string, kind: number, sqlType: string, v: unknown): string {
  let shown = typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
  if (shown.length > 40) shown = `${shown.slice(0, 40)}...`;
  const quoted = JSON.stringify(shown);
  if (typeof v === 'string' && v.includes('\u0000')) return `column "${column}": value contains a NUL character`;
  if ((kind === K_INT || kind === K_INT4 || kind === K_INT2) && typeof v === 'string' && scanInteger(v) !== 0) {
    return `column "${column}": ${quoted} is out of range for ${sqlType}`;
  }
  return `column "${column}": invalid ${sqlType} value ${quoted}`;
}

/**
 * Columns of a sample: for CSV the sanitised header (`keys` empty), for JSON/NDJSON the sanitised
 * union of object keys in first-seen order (`keys` holds the raw keys). Kinds are inferred from the
 * records, or all TEXT when `inferTypes` is false. Never throws.
 */
export function inferColumns(
  format: 'CSV' | 'JSON' | 'NDJSON',
  header: readonly string[] | null,
  records: readonly unknown[],
  inferTypes: boolean,
): { names: string[]; kinds: number[]; keys: string[] } {
  const inferrer = new TypeInferrer();
  const keys: string[] = [];
  let names: string[];
  if (format === 'CSV') {
    names = sanitizeColumnNames(header ?? []);
    if (inferTypes) for (const rec of records as string[][]) for (let j = 0; j < rec.length; j++) inferrer.observeText(j, rec[j]);
  } else {
    const index = new Map<string, number>();
    for (const obj of records as Record<string, unknown>[]) {
      for (const key in obj) {
        let col = index.get(key);
        if (col === undefined) index.set(key, (col = keys.push(key) - 1));
        if (inferTypes) inferrer.observeJson(col, obj[key]);
      }
    }
    names = sanitizeColumnNames(keys);
  }
  const kinds = inferTypes ? inferrer.result(names.length) : names.map(() => K_TEXT);
  return { names, kinds, keys };
}
