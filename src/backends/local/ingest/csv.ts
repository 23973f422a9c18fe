/**
 * Streaming RFC 4180 CSV parser (comma, double quotes, `""` escapes, LF or CRLF, quoted newlines).
 *
 * Why not csv-parse: on the reference machine csv-parse alone needs ~3.4 s for the 1M-row bench file
 * (~6 s with the `info` option needed for line numbers), more than the whole ingest budget (half the
 * speed of `psql \copy`, ~3.5 s). This parser takes ~0.5 s because unquoted lines, the vast majority,
 * are split with `indexOf` only; quoted records fall back to a small state machine.
 */
import { emit, parseFastLines, parseSimpleLines, type CsvState } from './csv-lines';
import { permanent } from './errors';
import type { RecordHandler, RecordParser } from './formats';

export type { CsvFastPath } from './csv-lines';

/** A record longer than this is taken for an unbalanced quote rather than buffered without bound. */
export const MAX_RECORD_CHARS = 16 * 1024 * 1024;

const UNTERMINATED = 'unterminated quoted field';

function countNewlines(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = s.indexOf('\n', from); i !== -1 && i < to; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

// One record containing quotes, starting at `start`. Returns the position after it, or -1 when the
// record is not complete yet (more input needed).
function parseQuotedRecord(s: string, start: number, final: boolean, st: CsvState): number {
  const len = s.length;
  const fields: string[] = [];
  let i = start;
  let newlines = 0;
  let broken: string | null = null;
  for (;;) {
    if (i < len && s.charCodeAt(i) === 34) {
      let val = '';
      i++;
      for (;;) {
        const j = s.indexOf('"', i);
        if (j === -1) {
          if (!final) return -1;
          if (st.expected >= 0) checkSwallowed(s, i, st.line);
          newlines += countNewlines(s, i, len);
          val += s.slice(i);
          i = len;
          broken = UNTERMINATED;
          break;
        }
        newlines += countNewlines(s, i, j);
        val += s.slice(i, j);
        // A quote at the very end may be the first half of a `""` escape.
        if (j + 1 === len && !final) return -1;
        if (s.charCodeAt(j + 1) === 34) {
          val += '"';
          i = j + 2;
        } else {
          i = j + 1;
          break;
        }
      }
      fields.push(val);
      if (broken) break;
      if (i >= len) {
        if (!final) return -1;
        break;
      }
      const c = s.charCodeAt(i);
      if (c === 44) {
        i++;
        continue;
      }
      if (c === 10 || (c === 13 && s.charCodeAt(i + 1) === 10)) {
        i += c === 10 ? 1 : 2;
        newlines++;
        break;
      }
      if (c === 13 && i + 1 === len && !final) return -1;
      broken = 'unexpected character after a closing quote';
      const nl = s.indexOf('\n', i);
      if (nl === -1 && !final) return -1;
      newlines += nl === -1 ? 0 : 1;
      i = nl === -1 ? len : nl + 1;
      break;
    }
    // Unquoted field; a quote inside it is taken literally.
    let j = i;
    for (; j < len; j++) {
      const c = s.charCodeAt(j);
      if (c === 44 || c === 10) break;
    }
    if (j === len && !final) return -1;
    if (j < len && s.charCodeAt(j) === 44) {
      fields.push(s.slice(i, j));
      i = j + 1;
      continue;
    }
    fields.push(s.slice(i, j > i && s.charCodeAt(j - 1) === 13 ? j - 1 : j));
    if (j < len) newlines++;
    i = j < len ? j + 1 : len;
    break;
  }
  const at = st.line;
  st.line += newlines;
  if (broken && st.expected < 0) {
    // Without a header there are no columns: nothing after it could be read right.
    throw permanent(
      broken === UNTERMINATED ? `CSV header has an unterminated quote (line ${at})` : `CSV header is malformed (line ${at}): ${broken}`,
    );
  }
  if (broken || (st.expected >= 0 && fields.length !== st.expected)) {
    reportBadRecord(s.slice(start, i), at, broken ?? `expected ${st.expected} columns, got ${fields.length}`, st);
  } else {
    emit(st, fields, at);
  }
  return i;
}

/**
 * Reports a bad quoted record starting at line `at`. When it spans several non-blank lines, a quote
 * was most likely unbalanced and paired with one further down: each line it took in is reported as a
 * bad row too, so that the rows lost count against maxFailedRowRatio instead of vanishing silently.
 */
function reportBadRecord(text: string, at: number, reason: string, st: CsvState): void {
  const lines = text.split('\n');
  let last = lines.length - 1;
  while (last > 0 && lines[last].trim() === '') last--;
  if (last === 0) return st.handler.bad(at, reason);
  st.handler.bad(at, `${reason}; the record runs on to line ${at + last} (unbalanced quote?)`);
  for (let k = 1; k <= last; k++) {
    if (lines[k].trim() !== '') st.handler.bad(at + k, `taken into the record at line ${at} by an unbalanced quote`);
  }
}

/**
 * Called at the end of the input inside a quoted field (its text starting at `from`) of the record
 * starting on line `line`. When non-blank lines follow the field's first line they would all become
 * part of this one field, one bad row hiding many lost ones: the input is refused instead (IngestError
 * PERMANENT). A quote left open on the last line only makes that line a bad row.
 */
function checkSwallowed(s: string, from: number, line: number): void {
  const nl = s.indexOf('\n', from);
  if (nl === -1) return;
  // Only on this failure path, once: splitting the rest is fine.
  const more = s
    .slice(nl + 1)
    .split('\n')
    .filter((l) => l.trim() !== '').length;
  if (more === 0) return;
  throw permanent(
    `CSV record at line ${line} has an unterminated quote: its quoted field would run to the end of the input, taking in ${more} more lines`,
  );
}

// Parses all complete records of `s` (and the last partial one when `final`); returns where it stopped.
function parseText(s: string, final: boolean, st: CsvState): number {
  const len = s.length;
  let pos = 0;
  while (pos < len) {
    const q = s.indexOf('"', pos);
    // Every line before the one holding the next quote is a simple record.
    const limit = q === -1 ? len : s.lastIndexOf('\n', q) + 1;
    if (limit > pos) {
      st.fast ??= st.handler.fastPath?.() ?? null;
      pos = st.fast
        ? parseFastLines(s, pos, limit, final && q === -1, st, st.fast)
        : parseSimpleLines(s, pos, limit, final && q === -1, st);
      if (pos < limit) break;
    }
    if (q === -1) break;
    const next = parseQuotedRecord(s, pos, final, st);
    if (next < 0) break;
    pos = next;
  }
  return pos;
}

/**
 * Creates a CSV parser. The first non-blank record is the header (`handler.header`); each later
 * record goes to `handler.row` with its 1-based starting line, or to `handler.bad` when its column
 * count differs from the header's or its quoting is broken. Blank lines are skipped.
 * Throws IngestError PERMANENT (from `push` or `end`) when a single record exceeds `maxRecordChars`,
 * when the header's quoting is broken, and when a quote left open would take in the rest of the
 * input (see checkSwallowed).
 */
export function createCsvParser(handler: RecordHandler<string[]>, maxRecordChars = MAX_RECORD_CHARS): RecordParser {
  const st: CsvState = { handler, fast: null, line: 1, expected: -1 };
  let buf = '';
  const tooLong = (): never => {
    if (st.expected < 0 && buf.includes('"'))
      throw permanent(`CSV header has an unterminated quote (line ${st.line}): no closing quote within ${maxRecordChars} characters`);
    throw permanent(`CSV record starting at line ${st.line} is longer than ${maxRecordChars} characters (unbalanced quote?)`);
  };

  return {
    push(text: string): void {
      // Only the carried-over record is joined with the head of the new text: big concatenated
      // strings are slower to scan, and copying each chunk would double the work.
      if (buf.length > 0) {
        let cut = text.indexOf('\n');
        for (;;) {
          if (cut === -1) {
            buf += text;
            if (buf.length > maxRecordChars) tooLong();
            return;
          }
          const head = buf + text.slice(0, cut + 1);
          const pos = parseText(head, false, st);
          if (pos > 0) {
            text = text.slice(pos - buf.length);
            buf = '';
            break;
          }
          if (head.length > maxRecordChars) tooLong();
          // A quoted newline: take more lines, doubling so that long records stay linear.
          cut = text.indexOf('\n', Math.max(cut + 1, 2 * cut));
        }
      }
      const pos = parseText(text, false, st);
      buf = pos >= text.length ? '' : text.slice(pos);
      if (buf.length > maxRecordChars) tooLong();
    },
    end(): void {
      if (buf.length > 0) parseText(buf, true, st);
      buf = '';
    },
  };
}
