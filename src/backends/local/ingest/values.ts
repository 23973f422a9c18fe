/**
 * Value recognisers and converters: decide whether a source value fits a column kind and render it in
 * PostgreSQL's text input format. They run once per value on the hot path, hence hand-written
 * char-code scanners instead of regular expressions or Number()/Date parsing.
 */

// Internal column kinds: numbers rather than strings so the hot path switches on small integers.

/** No value (NULL / empty): does not vote in inference. */
export const K_NULL = 0;
/** BIGINT. */
export const K_INT = 1;
/** DOUBLE PRECISION (also REAL and NUMERIC columns of existing tables). */
export const K_FLOAT = 2;
/** BOOLEAN. */
export const K_BOOL = 3;
/** DATE. */
export const K_DATE = 4;
/** TIMESTAMPTZ (also TIMESTAMP columns of existing tables). */
export const K_TS = 5;
/** JSONB (also JSON columns of existing tables). */
export const K_JSON = 6;
/** TEXT (also VARCHAR/CHAR columns of existing tables). */
export const K_TEXT = 7;
/** INTEGER column of an existing table (range-checked). */
export const K_INT4 = 8;
/** SMALLINT column of an existing table (range-checked). */
export const K_INT2 = 9;
/** Any other column type of an existing table: values pass through and the database judges them. */
export const K_RAW = 10;

/** Whether values of a kind may contain characters that COPY data must quote or escape (see {@link convertText}). */
export function kindNeedsEscape(kind: number): boolean {
  return kind === K_TEXT || kind === K_JSON || kind === K_RAW;
}

const INT64_MAX = '9223372036854775807';
const INT64_MIN_ABS = '9223372036854775808';

// PostgreSQL's numeric, boolean and date/time input functions skip this whitespace around a value.
function isSpace(c: number): boolean {
  return c === 32 || c === 9;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * Recognises a base-10 integer as PostgreSQL's int8 input accepts it (optional sign, surrounding
 * blanks) in `s[from, to)` (default: all of `s`). Returns 0 when it is not an integer, 1 when it fits
 * in int64, 2 when it is an integer outside int64. Never throws.
 */
export function scanInteger(s: string, from = 0, to = s.length): 0 | 1 | 2 {
  let i = from;
  let e = to;
  while (i < e && isSpace(s.charCodeAt(i))) i++;
  while (e > i && isSpace(s.charCodeAt(e - 1))) e--;
  if (i === e) return 0;
  const c0 = s.charCodeAt(i);
  const neg = c0 === 45;
  if (neg || c0 === 43) {
    if (++i === e) return 0;
  }
  const start = i;
  for (; i < e; i++) if (!isDigit(s.charCodeAt(i))) return 0;
  let d = start;
  while (d < e - 1 && s.charCodeAt(d) === 48) d++;
  const n = e - d;
  if (n < 19) return 1;
  if (n > 19) return 2;
  // Same length, so lexicographic order is numeric order.
  return s.slice(d, e) <= (neg ? INT64_MIN_ABS : INT64_MAX) ? 1 : 2;
}

/**
 * Recognises, in `s[from, to)`, a decimal or exponent number, `NaN`, `Infinity`/`inf`
 * (case-insensitive, optional sign), as PostgreSQL's float8 input accepts them. Values overflowing a
 * double are rejected. Never throws.
 */
export function isFloat(s: string, from = 0, to = s.length): boolean {
  let i = from;
  let e = to;
  while (i < e && isSpace(s.charCodeAt(i))) i++;
  while (e > i && isSpace(s.charCodeAt(e - 1))) e--;
  if (i === e) return false;
  const begin = i;
  let c = s.charCodeAt(i);
  if (c === 43 || c === 45) c = s.charCodeAt(++i);
  if (!isDigit(c) && c !== 46) {
    const word = s.slice(i, e).toLowerCase();
    return word === 'infinity' || word === 'inf' || (word === 'nan' && i === begin);
  }
  let digits = 0;
  while (i < e && isDigit(s.charCodeAt(i))) {
    i++;
    digits++;
  }
  if (i < e && s.charCodeAt(i) === 46) {
    i++;
    while (i < e && isDigit(s.charCodeAt(i))) {
      i++;
      digits++;
    }
  }
  if (digits === 0) return false;
  if (i === e) return true;
  c = s.charCodeAt(i);
  if (c !== 101 && c !== 69) return false;
  c = s.charCodeAt(++i);
  if (c === 43 || c === 45) i++;
  const expStart = i;
  while (i < e && isDigit(s.charCodeAt(i))) i++;
  // Only exponents can overflow, so only they pay for a Number() conversion.
  return i === e && i > expStart && Number.isFinite(Number(s.slice(begin, e)));
}

// PostgreSQL's boolean literals (unique prefixes of true/false/yes/no are accepted too, these are the usual ones).
const TRUE_WORDS = new Set(['true', 't', 'yes', 'y', 'on', '1']);
const FALSE_WORDS = new Set(['false', 'f', 'no', 'n', 'off', '0']);

/**
 * Recognises a boolean in `s[from, to)`. Strict mode (used for inference) accepts only `true`/`false`;
 * lenient mode (conversion) also accepts `t`/`f`/`yes`/`no`/`y`/`n`/`on`/`off`/`1`/`0`.
 * Case-insensitive, surrounding blanks allowed. Returns 1 (true), 0 (false) or -1 (not a boolean).
 */
export function parseBoolean(s: string, strict: boolean, from = 0, to = s.length): 1 | 0 | -1 {
  let i = from;
  let e = to;
  while (i < e && isSpace(s.charCodeAt(i))) i++;
  while (e > i && isSpace(s.charCodeAt(e - 1))) e--;
  if (e - i > 5 || e === i) return -1;
  const w = (i === 0 && e === s.length ? s : s.slice(i, e)).toLowerCase();
  if (w === 'true') return 1;
  if (w === 'false') return 0;
  if (strict) return -1;
  return TRUE_WORDS.has(w) ? 1 : FALSE_WORDS.has(w) ? 0 : -1;
}

function twoDigits(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

const DAYS_IN_MONTH = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Recognises ISO-8601 `YYYY-MM-DD` (returns {@link K_DATE}) and `YYYY-MM-DD[T| ]HH:MM[:SS[.frac]][Z|±HH[[:]MM]]`
 * (returns {@link K_TS}) in `s[from, to)`; anything else returns 0. Calendar-checked (leap years included) so that the
 * database never rejects what this accepts. Never throws.
 */
export function scanDateTime(s: string, from = 0, to = s.length): number {
  let i = from;
  let e = to;
  while (i < e && isSpace(s.charCodeAt(i))) i++;
  while (e > i && isSpace(s.charCodeAt(e - 1))) e--;
  if (e - i < 10 || s.charCodeAt(i + 4) !== 45 || s.charCodeAt(i + 7) !== 45) return 0;
  const y1 = twoDigits(s, i);
  const y2 = twoDigits(s, i + 2);
  const month = twoDigits(s, i + 5);
  const day = twoDigits(s, i + 8);
  if (y1 < 0 || y2 < 0 || month < 1 || month > 12 || day < 1) return 0;
  const year = y1 * 100 + y2;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (year === 0 || day > (month === 2 && !leap ? 28 : DAYS_IN_MONTH[month])) return 0;
  i += 10;
  if (i === e) return K_DATE;
  const sep = s.charCodeAt(i);
  // Bounds are checked before every read: on the CSV fast path the text goes on past `to`.
  if ((sep !== 84 && sep !== 116 && sep !== 32) || e - i < 6) return 0;
  const hour = twoDigits(s, i + 1);
  const minute = twoDigits(s, i + 4);
  if (s.charCodeAt(i + 3) !== 58 || hour < 0 || hour > 24 || minute < 0 || minute > 59) return 0;
  let second = 0;
  i += 6;
  if (i < e && s.charCodeAt(i) === 58) {
    if (e - i < 3) return 0;
    second = twoDigits(s, i + 1);
    if (second < 0 || second > 60) return 0;
    i += 3;
    if (i < e && s.charCodeAt(i) === 46) {
      const fracStart = ++i;
      while (i < e && isDigit(s.charCodeAt(i))) i++;
      if (i === fracStart) return 0;
    }
  }
  if (hour === 24 && (minute !== 0 || second !== 0)) return 0;
  if (i === e) return K_TS;
  const z = s.charCodeAt(i);
  if (z === 90 || z === 122) return i + 1 === e ? K_TS : 0;
  if ((z !== 43 && z !== 45) || e - i < 3) return 0;
  const zh = twoDigits(s, i + 1);
  if (zh < 0 || zh > 15) return 0;
  i += 3;
  if (i === e) return K_TS;
  if (s.charCodeAt(i) === 58 && e - i === 3) i++;
  const zm = twoDigits(s, i);
  return zm >= 0 && zm <= 59 && i + 2 === e ? K_TS : 0;
}

// Typed values leave without surrounding blanks, so that they never need COPY escaping (a tab is a blank).
function trimmed(s: string): string {
  const a = s.charCodeAt(0);
  const b = s.charCodeAt(s.length - 1);
  return a === 32 || a === 9 || b === 32 || b === 9 ? s.trim() : s;
}

function intInRange(s: string, min: number, max: number, from = 0, to = s.length): boolean {
  if (scanInteger(s, from, to) !== 1) return false;
  const n = Number(from === 0 && to === s.length ? s : s.slice(from, to));
  return n >= min && n <= max;
}

/**
 * Whether the non-empty field `s[from, to)` is valid, as written, as PostgreSQL text input of a column
 * of `kind` - the CSV fast path, which copies valid lines verbatim. PostgreSQL accepts surrounding
 * blanks and all the boolean spellings recognised here. JSON columns need a real parse: always false.
 */
export function isValidRaw(kind: number, s: string, from: number, to: number): boolean {
  switch (kind) {
    case K_TEXT:
    case K_RAW:
      return true;
    case K_INT:
      return scanInteger(s, from, to) === 1;
    case K_FLOAT:
      return isFloat(s, from, to);
    case K_BOOL:
      return parseBoolean(s, false, from, to) !== -1;
    case K_DATE:
    case K_TS:
      return scanDateTime(s, from, to) !== 0;
    case K_INT4:
      return intInRange(s, -2147483648, 2147483647, from, to);
    case K_INT2:
      return intInRange(s, -32768, 32767, from, to);
    default:
      return false;
  }
}

/**
 * Converts a text value (CSV field) to PostgreSQL text input for a column of `kind`.
 * Returns null for the empty string (NULL), undefined when the value does not fit (a bad row).
 * Values of typed kinds (numbers, booleans, dates) come back without surrounding blanks, hence never
 * contain characters that COPY data must quote or escape; TEXT, JSON and RAW values may.
 */
export function convertText(kind: number, s: string): string | null | undefined {
  if (s.length === 0) return null;
  switch (kind) {
    case K_TEXT:
    case K_RAW:
      // PostgreSQL text cannot hold NUL.
      return s.indexOf('\u0000') === -1 ? s : undefined;
    case K_INT:
      return scanInteger(s) === 1 ? trimmed(s) : undefined;
    case K_FLOAT:
      return isFloat(s) ? trimmed(s) : undefined;
    case K_BOOL: {
      const b = parseBoolean(s, false);
      return b === 1 ? 't' : b === 0 ? 'f' : undefined;
    }
    case K_DATE:
    case K_TS:
      return scanDateTime(s) !== 0 ? trimmed(s) : undefined;
    case K_INT4:
      return intInRange(s, -2147483648, 2147483647) ? trimmed(s) : undefined;
    case K_INT2:
      return intInRange(s, -32768, 32767) ? trimmed(s) : undefined;
    case K_JSON:
      try {
        JSON.parse(s);
        return s.indexOf('\u0000') === -1 ? s : undefined;
      } catch {
        return undefined;
      }
    default:
      return undefined;
  }
}

/**
 * Converts a parsed JSON value to PostgreSQL text input for a column of `kind`. null, undefined and
 * '' give null (NULL); a value that does not fit gives undefined (a bad row). Strings are judged as
 * text (so ISO dates in JSON strings load into TIMESTAMPTZ columns), except in JSONB columns where
 * they stay JSON strings.
 */
export function convertJsonValue(kind: number, v: unknown): string | null | undefined {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'string':
      if (kind === K_JSON) return v.length === 0 ? null : JSON.stringify(v);
      return convertText(kind, v);
    case 'number':
      if (kind === K_FLOAT || kind === K_TEXT || kind === K_RAW) return String(v);
      if (kind === K_INT || kind === K_INT4 || kind === K_INT2) {
        if (!Number.isInteger(v)) return undefined;
        // Beyond 2^53, String() would switch to exponent notation, which int8 input rejects.
        return convertText(kind, Number.isSafeInteger(v) ? String(v) : BigInt(v).toString());
      }
      return kind === K_JSON ? String(v) : undefined;
    case 'boolean':
      if (kind === K_BOOL) return v ? 't' : 'f';
      if (kind === K_TEXT || kind === K_JSON || kind === K_RAW) return v ? 'true' : 'false';
      return undefined;
    case 'object':
      return kind === K_JSON || kind === K_TEXT || kind === K_RAW ? convertText(K_TEXT, JSON.stringify(v)) : undefined;
    default:
      return undefined;
  }
}
