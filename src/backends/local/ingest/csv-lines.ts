/**
 * The hot part of the CSV parser: runs of complete lines without quotes, split with `indexOf` only,
 * either into field arrays or - on the fast path - passed on verbatim when every field is valid.
 */
import type { RecordHandler } from './formats';
import { isValidRaw } from './values';

/**
 * The CSV fast path, offered by the consumer once the destination columns are known: lines without
 * quotes, carriage returns, NULs or empty fields, whose every field is valid as written for its
 * column, are passed on verbatim (they are valid COPY CSV lines), many lines at a time, instead of as
 * one array of field strings per row.
 */
export interface CsvFastPath {
  /** Column kind of each field, in header order. */
  readonly kinds: readonly number[];
  /** How many more rows the consumer's current batch takes (at least 1). */
  room(): number;
  /** `count` valid lines (each ending with a newline) starting at line `firstLine`. */
  run(text: string, firstLine: number, count: number): void;
}

/** Parser state shared by the line and record parsers. */
export interface CsvState {
  handler: RecordHandler<string[]>;
  /** Set once the handler offers a fast path. */
  fast: CsvFastPath | null;
  /** Line number where the next unparsed record starts. */
  line: number;
  /** Column count of the header; -1 until it is read. */
  expected: number;
}

/** Hands a complete record to the handler: header, row, or bad row (wrong column count). */
export function emit(st: CsvState, fields: string[], at: number): void {
  if (st.expected < 0) {
    st.expected = fields.length;
    st.handler.header?.(fields, at);
  } else if (fields.length !== st.expected) {
    st.handler.bad(at, `expected ${st.expected} columns, got ${fields.length}`);
  } else {
    st.handler.row(fields, at);
  }
}

/**
 * The hot loop: parses the complete lines of `s[pos, limit)` (which must hold no quote; when `final`,
 * also a last line without newline) into field arrays handed to {@link emit}. Blank lines are
 * skipped. Returns where it stopped (the start of an incomplete line). Never throws itself.
 */
// Kept as a small top-level function: inside a larger closure V8 optimised it unreliably (up to 30x slower).
export function parseSimpleLines(s: string, pos: number, limit: number, final: boolean, st: CsvState): number {
  let line = st.line;
  let comma = s.indexOf(',', pos);
  while (pos < limit) {
    let nl = s.indexOf('\n', pos);
    if (nl === -1 || nl >= limit) {
      if (!final) break;
      nl = limit;
    }
    const end = nl > pos && s.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
    if (end > pos) {
      const fields: string[] = [];
      let p = pos;
      for (;;) {
        // The next comma is remembered across lines so a comma-less (single column) file is not rescanned per line.
        if (comma !== -1 && comma < p) comma = s.indexOf(',', p);
        if (comma === -1 || comma >= end) {
          fields.push(s.slice(p, end));
          break;
        }
        fields.push(s.slice(p, comma));
        p = comma + 1;
      }
      st.line = line;
      emit(st, fields, line);
    }
    line++;
    pos = nl + 1;
  }
  st.line = line;
  return pos;
}

// Splits one unquoted line [pos, end) into fields and emits it (fallback of the fast path).
function emitPlainLine(s: string, pos: number, end: number, st: CsvState): void {
  if (end > pos && s.charCodeAt(end - 1) === 13) end--;
  if (end === pos) return;
  const fields: string[] = [];
  let p = pos;
  for (let c = s.indexOf(',', p); c !== -1 && c < end; c = s.indexOf(',', p)) {
    fields.push(s.slice(p, c));
    p = c + 1;
  }
  fields.push(s.slice(p, end));
  emit(st, fields, st.line);
}

/**
 * {@link parseSimpleLines} with the fast path: valid lines are collected into runs handed to
 * `fast.run` verbatim (never more than `fast.room()` rows per run); any other line goes through the
 * normal record path (and may become a bad row there), in file order.
 */
export function parseFastLines(s: string, pos: number, limit: number, final: boolean, st: CsvState, fast: CsvFastPath): number {
  const kinds = fast.kinds;
  const n = kinds.length;
  let line = st.line;
  let comma = s.indexOf(',', pos);
  // Next carriage return (a COPY must not mix line endings) and NUL (PostgreSQL refuses it): a line
  // holding one takes the normal path. Cached like `comma`, so each is scanned once per piece.
  let cr = s.indexOf('\r', pos);
  let nul = s.indexOf('\u0000', pos);
  let runStart = 0;
  let runLine = 0;
  let runCount = 0;
  let room = fast.room();
  while (pos < limit) {
    let nl = s.indexOf('\n', pos);
    if (nl === -1 || nl >= limit) {
      if (!final) break;
      nl = limit;
    }
    if (cr !== -1 && cr < pos) cr = s.indexOf('\r', pos);
    if (nul !== -1 && nul < pos) nul = s.indexOf('\u0000', pos);
    // A last line without newline takes the normal path (runs are whole lines), and so does a line
    // reading `\.`, COPY's end-of-data marker.
    let ok =
      (cr === -1 || cr > nl) &&
      (nul === -1 || nul > nl) &&
      nl < s.length &&
      !(nl - pos === 2 && s.charCodeAt(pos) === 92 && s.charCodeAt(pos + 1) === 46);
    if (ok) {
      let p = pos;
      let k = 0;
      for (;;) {
        if (comma !== -1 && comma < p) comma = s.indexOf(',', p);
        const end = comma === -1 || comma > nl ? nl : comma;
        if (end === p || k === n || !isValidRaw(kinds[k], s, p, end)) {
          ok = false;
          break;
        }
        k++;
        if (end === nl) break;
        p = end + 1;
      }
      ok = ok && k === n;
    }
    if (ok) {
      if (runCount === 0) {
        runStart = pos;
        runLine = line;
      }
      if (++runCount === room) {
        fast.run(s.slice(runStart, nl + 1), runLine, runCount);
        runCount = 0;
        room = fast.room();
      }
    } else {
      if (runCount > 0) {
        fast.run(s.slice(runStart, pos), runLine, runCount);
        runCount = 0;
      }
      st.line = line;
      emitPlainLine(s, pos, nl, st);
      room = fast.room();
    }
    line++;
    pos = nl + 1;
  }
  if (runCount > 0) fast.run(s.slice(runStart, pos), runLine, runCount);
  st.line = line;
  return pos;
}
