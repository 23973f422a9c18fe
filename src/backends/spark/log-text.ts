/**
 * Reading a Spark driver's log text: log4j line prefixes (time and level), Spark's JSON log
 * records, bounded excerpts, and masking what looks like a secret. Shared by driver-state.ts and
 * java-exception.ts; pure.
 */

export type DriverLogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

/** log4j's level words (and java.util.logging's WARNING) in jobwire's four levels. */
const LEVELS: Readonly<Record<string, DriverLogLevel>> = {
  TRACE: 'DEBUG',
  DEBUG: 'DEBUG',
  INFO: 'INFO',
  WARN: 'WARN',
  WARNING: 'WARN',
  ERROR: 'ERROR',
  FATAL: 'ERROR',
};
const levelOf = (word: string): DriverLogLevel | null => LEVELS[word.toUpperCase()] ?? null;

/** Spark's default layout, `%d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n` (milliseconds when a layout adds them). */
const SPARK_TIME = /^(\d{2})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,3}))?(?=\s|$)/;
/** ISO 8601 as log4j writes it (`2026-12-01T10:00:00,123`, `… 10:00:00.123Z`, `…+01:00`). */
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2})?)?(?=\s|$)/;
/** The level word after the time, with a `[thread]` before or after it when the layout has one. */
const LEVEL_WORD = /^\s+(?:\[[^\]]*\]\s+)?(TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL)\b:?(?:\s+\[[^\]]*\])?/;

/**
 * The time and level a log line starts with, and the rest of it; null when it does not start with
 * a time. Times without an offset are read as UTC (Spark's layout has none; the cluster's workers
 * are expected to run in UTC). An impossible date (month 13) is no time.
 */
export function logPrefix(line: string): { timestamp: string; level: DriverLogLevel | null; rest: string } | null {
  const spark = SPARK_TIME.exec(line);
  const m = spark ?? ISO_TIME.exec(line);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [spark ? 2000 + Number(m[1]) : Number(m[1]), ...m.slice(2, 7).map(Number)];
  const ms = Number((m[7] ?? '0').slice(0, 3).padEnd(3, '0'));
  const utc = new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms));
  const exact =
    utc.getUTCFullYear() === year &&
    utc.getUTCMonth() === month - 1 &&
    utc.getUTCDate() === day &&
    utc.getUTCHours() === hour &&
    utc.getUTCMinutes() === minute &&
    utc.getUTCSeconds() === second;
  if (!exact) return null;
  const offsetMs = spark ? 0 : offsetMinutes(m[8]) * 60_000;
  let rest = line.slice(m[0].length);
  const word = LEVEL_WORD.exec(rest);
  if (word) rest = rest.slice(word[0].length);
  return { timestamp: new Date(utc.getTime() - offsetMs).toISOString(), level: word ? levelOf(word[1]) : null, rest: rest.trim() };
}

function offsetMinutes(offset: string | undefined): number {
  if (!offset || offset === 'Z') return 0;
  const digits = offset.slice(1).replace(':', '');
  const minutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0');
  return offset.startsWith('-') ? -minutes : minutes;
}

/** A record of Spark's JSON layout (`{"ts":…,"level":…,"msg":…,"logger":…,"exception":{…}}`). */
export interface StructuredRecord {
  timestamp: string | null;
  level: DriverLogLevel;
  msg: string;
  logger: string | null;
  exception: { className: string; message: string; stackTrace: string | null } | null;
}

/** The line as a record of Spark's JSON layout, or null when it is not one. */
export function structuredRecord(line: string): StructuredRecord | null {
  if (!line.startsWith('{"')) return null;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  const r = v as Record<string, unknown>;
  if (!r || typeof r !== 'object' || typeof r.level !== 'string' || typeof r.msg !== 'string' || typeof r.ts !== 'string') return null;
  const time = Date.parse(r.ts);
  const e = r.exception as Record<string, unknown> | undefined;
  const trace = e?.stacktrace ?? e?.stackTrace;
  return {
    timestamp: Number.isNaN(time) ? null : new Date(time).toISOString(),
    level: levelOf(r.level) ?? 'INFO',
    msg: r.msg,
    logger: typeof r.logger === 'string' ? r.logger : null,
    exception:
      e && typeof e === 'object' && typeof e.class === 'string'
        ? {
            className: e.class,
            message: typeof e.msg === 'string' ? e.msg : '',
            stackTrace: typeof trace === 'string' ? trace : Array.isArray(trace) ? trace.map(String).join('\n') : null,
          }
        : null,
  };
}

/** What stands in for a secret. */
export const MASK = '***';

/** `scheme://user:password@` (the password up to the last `@` of the authority). */
const URL_PASSWORD = /(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*:\/\/[^\s:/@'"]*):[^\s/'"]*@/gi;
/**
 * `name=value`, `name: value`, `"name":"value"` where the name says secret. Anchored at the start
 * of a name, and the name checked by a lookahead, so a long line costs linear time.
 */
const SECRET_PAIR = new RegExp(
  String.raw`(?<![\w.-])(?=[\w.-]*(?:password|passwd|pwd|secret|token|credential|authorization|(?:access|private|api)[-_.]?key))` +
    String.raw`([\w.-]+["']?\s*[=:]\s*)("[^"]*"|'[^']*'|(?:Bearer|Basic|Token)\s+[^\s&;,"')}\]]+|[^\s&;,"')}\]]+)`,
  'gi',
);

/**
 * `text` with what looks like a secret replaced by `***`: the password of a URL
 * (`postgres://app:pw@db/x` → `postgres://app:***@db/x`) and the value of a pair whose name says
 * password, secret, token, credential, authorization or access/private/API key (`password=pw`,
 * `"token": "t"`, `Authorization: Bearer t`). Deliberately broad, like src/jobs/secrets.ts: masking
 * a harmless value costs a little clarity, leaking one costs more.
 */
export function scrubLogSecrets(text: string): string {
  return text.replace(URL_PASSWORD, `$1:${MASK}@`).replace(SECRET_PAIR, (_, head: string, value: string) => {
    if (value.startsWith('"') || value.startsWith("'")) return `${head}${value[0]}${MASK}${value[0]}`;
    const scheme = /^(Bearer|Basic|Token)\s/i.exec(value);
    return `${head}${scheme ? `${scheme[1]} ` : ''}${MASK}`;
  });
}

/** `s` cut to at most `max` characters, an ellipsis saying it was. */
export const capText = (s: string, max: number): string => (s.length <= max ? s : `${s.slice(0, max - 1)}…`);

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** Longest error message (the details carry the rest). */
export const MAX_ERROR_MESSAGE = 2000;

/** Longest error details: the first lines of a trace, or the last lines of a log. */
export const MAX_DETAILS_BYTES = 4096;

/** The first lines of `text` (secrets masked) within `maxBytes` UTF-8 bytes, saying how many more there were; null when blank. */
export function excerpt(text: string, maxBytes = MAX_DETAILS_BYTES): string | null {
  const lines = scrubLogSecrets(text).trimEnd().split('\n');
  if (!lines.join('').trim()) return null;
  const out: string[] = [];
  let used = 0;
  for (const line of lines) {
    const more = `\t… ${lines.length - out.length} more lines`;
    if (used + bytes(line) + 1 + bytes(more) > maxBytes) {
      if (!out.length) out.push(capText(line, Math.floor((maxBytes - bytes(more)) / 4)));
      out.push(`\t… ${lines.length - out.length} more lines`);
      break;
    }
    out.push(line);
    used += bytes(line) + 1;
  }
  return out.join('\n');
}

/** The last lines of `text` (secrets masked) within `maxBytes` UTF-8 bytes, an ellipsis line first when some were left out; null when blank. */
export function lastLines(text: string, maxBytes = MAX_DETAILS_BYTES): string | null {
  const lines = scrubLogSecrets(text).trimEnd().split('\n');
  if (!lines.join('').trim()) return null;
  const out: string[] = [];
  let used = bytes('…\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    if (used + bytes(lines[i]) + 1 > maxBytes) {
      // A last line longer than the budget: its start, rather than nothing.
      if (!out.length) out.push(capText(lines[i], Math.floor(maxBytes / 4) - 2));
      break;
    }
    out.unshift(lines[i]);
    used += bytes(lines[i]) + 1;
  }
  return (out.length < lines.length ? ['…', ...out] : out).join('\n');
}
