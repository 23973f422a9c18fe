/** Format detection, and the common interface of the streaming record parsers. */
import path from 'node:path';
import { createCsvParser, type CsvFastPath } from './csv';
import { permanent } from './errors';
import { createJsonArrayParser, createNdjsonParser } from './json';
import type { DataFormat } from './types';

/** A format the LOCAL executor can parse. */
export type ConcreteFormat = 'CSV' | 'JSON' | 'NDJSON';

/** Receives parsed records. Line numbers are 1-based lines of the input where the record starts. */
export interface RecordHandler<T> {
  /** CSV only: the header record. */
  header?(names: string[], line: number): void;
  row(record: T, line: number): void;
  bad(line: number, reason: string): void;
  /** CSV only: the fast path for valid lines, once available (asked again until it is). */
  fastPath?(): CsvFastPath | null;
}

/** A push parser: feed decoded text in any slicing, then call `end` once. Throws IngestError PERMANENT on unreadable input. */
export interface RecordParser {
  push(text: string): void;
  end(): void;
}

/** Message of the PERMANENT error for Parquet input. */
export const PARQUET_UNSUPPORTED = 'PARQUET is not supported by the LOCAL executor; use the SPARK backend';

/**
 * Format implied by a file name's extension (case-insensitive): .csv, .json, .ndjson/.jsonl,
 * .parquet. Returns null for anything else.
 */
export function formatFromExtension(name: string): DataFormat | null {
  switch (path.extname(name).toLowerCase()) {
    case '.csv':
      return 'CSV';
    case '.json':
      return 'JSON';
    case '.ndjson':
    case '.jsonl':
      return 'NDJSON';
    case '.parquet':
      return 'PARQUET';
    default:
      return null;
  }
}

/**
 * Format implied by the start of the content: Parquet magic `PAR1` => PARQUET, first non-whitespace
 * character `[` => JSON, `{` => NDJSON, anything else => CSV; null when `head` is empty or blank
 * (nothing to decide on). A leading BOM is ignored.
 */
export function sniffFormat(head: string): DataFormat | null {
  if (head.startsWith('PAR1')) return 'PARQUET';
  for (let i = 0; i < head.length; i++) {
    const c = head.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13 || c === 0xfeff) continue;
    return c === 91 ? 'JSON' : c === 123 ? 'NDJSON' : 'CSV';
  }
  return null;
}

/**
 * Whether decoded text looks like binary data rather than CSV/JSON: it contains NUL characters, or
 * more than 1 % of it are U+FFFD (bytes that are not valid UTF-8). Looks at the first 64 KiB only.
 */
export function looksBinary(head: string): boolean {
  const n = Math.min(head.length, 65536);
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const c = head.charCodeAt(i);
    if (c === 0) return true;
    if (c === 0xfffd) bad++;
  }
  return bad > n / 100;
}

/**
 * Decides the concrete format of one input: the requested one, or for AUTO the extension of `name`,
 * then {@link sniffFormat} of `head`. Throws IngestError PERMANENT for PARQUET and for binary content.
 */
export function resolveFormat(requested: DataFormat, name: string, head: string): ConcreteFormat {
  let format: DataFormat | null = requested;
  if (requested === 'AUTO') format = formatFromExtension(name) ?? sniffFormat(head) ?? 'CSV';
  if (format === 'PARQUET' || head.startsWith('PAR1')) throw permanent(PARQUET_UNSUPPORTED);
  if (looksBinary(head)) throw permanent(`${name} does not look like ${format === 'AUTO' ? 'text' : format} (binary content)`);
  if (format !== 'CSV' && format !== 'JSON' && format !== 'NDJSON') throw permanent(`unknown format ${String(format)}`);
  return format;
}

/**
 * Creates the streaming parser of a concrete format: CSV records are string arrays, JSON/NDJSON
 * records are objects. The parsers throw IngestError PERMANENT on unreadable input (see each parser).
 */
export function createParser(format: ConcreteFormat, handler: RecordHandler<never>): RecordParser {
  if (format === 'CSV') return createCsvParser(handler as RecordHandler<string[]>);
  if (format === 'JSON') return createJsonArrayParser(handler as RecordHandler<Record<string, unknown>>);
  return createNdjsonParser(handler as RecordHandler<Record<string, unknown>>);
}
