/**
 * Streaming JSON parsers: NDJSON (one object per line) and a top-level JSON array split element by
 * element, so that neither ever holds more than one record's text in memory.
 */
import { permanent } from './errors';
import type { RecordHandler, RecordParser } from './formats';

/** An array element or NDJSON line longer than this is taken for a malformed file. */
export const MAX_ELEMENT_CHARS = 64 * 1024 * 1024;

function isWs(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

function describeJson(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}

/** JSON.parse's message, shortened: recent V8 versions quote the whole input in it. */
function syntaxReason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return `invalid JSON: ${msg.length > 160 ? `${msg.slice(0, 160)}...` : msg}`;
}

// Parses one record's text and hands it to the handler as a row or a bad row.
function deliver(text: string, line: number, handler: RecordHandler<Record<string, unknown>>): void {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    handler.bad(line, syntaxReason(err));
    return;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) handler.bad(line, `expected a JSON object, got ${describeJson(v)}`);
  else handler.row(v as Record<string, unknown>, line);
}

/**
 * Creates an NDJSON parser: each non-blank line must hold one JSON object; any other line is a bad
 * row (with its 1-based line number), never fatal. `push` throws IngestError PERMANENT only when a
 * single line exceeds `maxLineChars`.
 */
export function createNdjsonParser(handler: RecordHandler<Record<string, unknown>>, maxLineChars = MAX_ELEMENT_CHARS): RecordParser {
  let buf = '';
  let line = 1;
  const parse = (s: string, final: boolean): number => {
    const len = s.length;
    let pos = 0;
    while (pos < len) {
      let nl = s.indexOf('\n', pos);
      if (nl === -1) {
        if (!final) break;
        nl = len;
      }
      let a = pos;
      while (a < nl && isWs(s.charCodeAt(a))) a++;
      if (a < nl) deliver(s.slice(a, nl), line, handler);
      line++;
      pos = nl + 1;
    }
    return pos;
  };
  return {
    push(text) {
      // Only the carried-over line is joined with new text: scanning a concatenated (cons) string is slow in V8.
      if (buf.length > 0) {
        const cut = text.indexOf('\n');
        if (cut === -1) {
          buf += text;
          if (buf.length > maxLineChars) throw permanent(`NDJSON line ${line} is longer than ${maxLineChars} characters`);
          return;
        }
        parse(buf + text.slice(0, cut + 1), false);
        text = text.slice(cut + 1);
        buf = '';
      }
      const pos = parse(text, false);
      buf = pos >= text.length ? '' : text.slice(pos);
      if (buf.length > maxLineChars) throw permanent(`NDJSON line ${line} is longer than ${maxLineChars} characters`);
    },
    end() {
      if (buf.length > 0) parse(buf, true);
      buf = '';
    },
  };
}

const BEFORE = 0; // before the opening '['
const START = 1; // expecting an element or ']'
const IN = 2; // inside an element
const DONE = 3; // after the closing ']'

/**
 * Creates a parser for a top-level JSON array of objects. Elements are split by tracking bracket
 * depth and strings, then parsed one by one: an element that is not a valid object is a bad row at
 * the line where it starts. Throws IngestError PERMANENT when the input is not an array at all, has
 * data after the array, ends before the array is closed, or holds an element over `maxElementChars`.
 * An input that is empty or only whitespace yields no rows and no error.
 */
export function createJsonArrayParser(handler: RecordHandler<Record<string, unknown>>, maxElementChars = MAX_ELEMENT_CHARS): RecordParser {
  // The scanner runs over each pushed text directly; an element spanning pushes is carried over as a
  // string prefix (scanning a concatenated string char by char is slow in V8).
  let carry = '';
  let phase = BEFORE;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let line = 1;
  let elemLine = 1;

  const run = (s: string): void => {
    const len = s.length;
    let elemStart = 0;
    for (let i = 0; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c === 10) line++;
      if (phase === IN) {
        if (inString) {
          if (escaped) escaped = false;
          else if (c === 92) escaped = true;
          else if (c === 34) inString = false;
          continue;
        }
        if (c === 34) inString = true;
        else if (c === 123 || c === 91) depth++;
        else if (c === 125 || (c === 93 && depth > 0)) depth = depth > 0 ? depth - 1 : 0;
        else if (depth === 0 && (c === 44 || c === 93)) {
          deliver(carry + s.slice(elemStart, i), elemLine, handler);
          carry = '';
          phase = c === 44 ? START : DONE;
        }
        continue;
      }
      if (isWs(c)) continue;
      if (phase === BEFORE) {
        if (c !== 91) {
          throw permanent(
            `JSON source is not an array of objects (line ${line} starts with ${JSON.stringify(String.fromCharCode(c))}); ` +
              'for one object per line use format NDJSON',
          );
        }
        phase = START;
      } else if (phase === START) {
        // `[]` and a trailing comma both end the array here.
        if (c === 93) phase = DONE;
        else {
          phase = IN;
          elemStart = i;
          elemLine = line;
          depth = c === 123 || c === 91 ? 1 : 0;
          inString = c === 34;
          escaped = false;
        }
      } else {
        throw permanent(`unexpected data after the end of the JSON array at line ${line}`);
      }
    }
    if (phase === IN) {
      carry += s.slice(elemStart);
      if (carry.length > maxElementChars)
        throw permanent(`JSON array element at line ${elemLine} is longer than ${maxElementChars} characters`);
    }
  };

  return {
    push(text) {
      run(text);
    },
    end() {
      carry = '';
      if (phase === START || phase === IN) throw permanent(`JSON array is not closed: input ended at line ${line}`);
    },
  };
}
