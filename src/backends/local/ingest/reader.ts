/**
 * Reading one input: open it, decode UTF-8, decide its format from the first bytes, and feed its
 * parser in small pieces, pausing whenever the consumer has work to do (back-pressure).
 */
import { StringDecoder } from 'node:string_decoder';
import {
  createParser,
  formatFromExtension,
  resolveFormat,
  sniffFormat,
  type ConcreteFormat,
  type RecordHandler,
  type RecordParser,
} from './formats';
import type { SourceInput } from './sources';
import type { DataFormat, LogLevel } from './types';

/** Text handed to the parser at a time: a full batch can then leave as soon as it is complete. */
export const PARSE_PIECE_CHARS = 1 << 16;
/** How much leading text may be blank before the format is decided anyway. */
const SNIFF_LIMIT_CHARS = 1 << 16;

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function stripBom(s: string): string {
  return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
}

/** How {@link readInput} talks to the ingest. */
export interface ReaderHooks {
  signal: AbortSignal;
  log(level: LogLevel, message: string): void;
  /** The format is known: returns the handler receiving this input's records. */
  start(format: ConcreteFormat): RecordHandler<never>;
  /** Bytes read (before decoding). */
  bytes(n: number, sizeKnown: number | null): void;
  /** Bytes of input just handed to the parser (in proportion to the text of their chunk), for estimates. */
  parsed(n: number): void;
  /** Whether the consumer wants {@link drain} to be awaited before more text is parsed. */
  busy(): boolean;
  drain(): Promise<void>;
  /** Throws to stop reading (abort, earlier failure); called once per chunk. */
  checkStop(): void;
  /** Called after each chunk, for progress reporting. */
  chunkDone(): void;
}

/**
 * Reads one input to its end through the parser of its format (the requested one, or for AUTO by
 * extension then content). Returns false when the input holds no data (empty or blank). Rejects
 * with what the source, the parser or the hooks throw (IngestError).
 */
export async function readInput(source: SourceInput, requested: DataFormat, hooks: ReaderHooks): Promise<boolean> {
  hooks.checkStop();
  const opened = await source.open(hooks.signal);
  hooks.bytes(0, opened.size);
  hooks.log('INFO', `opened ${source.label} (${opened.size === null ? 'size unknown' : `${opened.size} bytes`})`);
  const start = (head: string): RecordParser => {
    const format = resolveFormat(requested, source.name, head);
    const how = requested !== 'AUTO' ? 'as requested' : formatFromExtension(source.name) ? 'from the file extension' : 'from the content';
    hooks.log('INFO', `format of ${source.label}: ${format} (${how})`);
    return createParser(format, hooks.start(format));
  };
  const decoder = new StringDecoder('utf8');
  let parser: RecordParser | null = null;
  let head = '';
  // Bytes read whose text the parser has not had yet.
  let unparsed = 0;
  for await (const chunk of opened.chunks) {
    hooks.checkStop();
    hooks.bytes(chunk.length, opened.size);
    unparsed += chunk.length;
    let text = decoder.write(chunk);
    if (!parser) {
      head += text;
      // Decide the format only once there is something to look at.
      if (sniffFormat(head) === null && head.length < SNIFF_LIMIT_CHARS) continue;
      text = stripBom(head);
      head = '';
      parser = start(text);
    }
    const bytes = unparsed;
    let given = 0;
    for (let off = 0; off < text.length; off += PARSE_PIECE_CHARS) {
      const end = Math.min(text.length, off + PARSE_PIECE_CHARS);
      parser.push(off === 0 && end === text.length ? text : text.slice(off, end));
      const share = Math.round((bytes * end) / text.length) - given;
      given += share;
      unparsed -= share;
      hooks.parsed(share);
      if (hooks.busy()) await hooks.drain();
      // Let the event loop run between pieces: socket writes of the batch in flight and the server's
      // replies are serviced promptly instead of once per file chunk.
      else await yieldToEventLoop();
    }
    hooks.chunkDone();
  }
  const rest = decoder.end();
  if (!parser) {
    head = stripBom(head + rest);
    if (sniffFormat(head) === null) return false;
    parser = start(head);
    parser.push(head);
  } else if (rest) {
    parser.push(rest);
  }
  parser.end();
  hooks.parsed(unparsed);
  return true;
}
