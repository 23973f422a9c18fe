/**
 * A batch under construction: rows are encoded for COPY (CSV format) as soon as they are converted,
 * into off-heap Buffers. Holding only encoded bytes between parsing and writing (not thousands of row
 * arrays and field strings) keeps garbage collection cheap: scavenges copying live batches were the
 * largest single cost when batches were held as row arrays. CSV rather than text format because
 * valid CSV source lines can then be copied verbatim (see csv.ts, CsvFastPath).
 */
import { csvQuote } from './sinks';

/**
 * Encoded text is cut into Buffers of about this many characters, at row ends: a piece goes over
 * by at most one row (the one that reaches the limit).
 */
export const BATCH_PIECE_CHARS = 1 << 16;

/**
 * Rows of one COPY: column list, CSV-encoded data (no header; NULL is an unquoted empty field), and
 * where each row came from (for bad-row reports).
 */
export class CopyBatch {
  /** The encoded rows; each piece holds whole rows. */
  readonly pieces: Buffer[] = [];
  /** How many rows each piece holds. */
  readonly pieceRows: number[] = [];
  rows = 0;
  private curRows = 0;
  // Source lines as [first, count] pairs: runs of consecutive lines cost two numbers, not one per row.
  private readonly segments: number[] = [];
  private cur = '';

  /**
   * @param columns COPY column list (plain names).
   * @param quote per column, whether values may need CSV quoting (others are known to be clean).
   * @param label the input the rows come from, for messages.
   */
  constructor(
    readonly columns: string[],
    private readonly quote: readonly boolean[],
    readonly label: string,
  ) {}

  /** Appends a converted row (null = NULL); `values.length` must equal the column count. */
  add(values: readonly (string | null)[], line: number): void {
    const q = this.quote;
    let out = this.cur;
    for (let j = 0; j < values.length; j++) {
      const v = values[j];
      if (j > 0) out += ',';
      if (v !== null) out += q[j] ? csvQuote(v) : v;
    }
    this.push(`${out}\n`, line, 1);
  }

  /**
   * Appends `count` rows already CSV-encoded (each line ending with a newline, no quotes: a newline
   * always ends a row), from consecutive lines. A long run is cut at line ends into pieces.
   */
  addEncoded(text: string, firstLine: number, count: number): void {
    for (let from = 0, line = firstLine; from < text.length;) {
      const room = BATCH_PIECE_CHARS - this.cur.length;
      let to = text.length;
      // At least one line, else as many as fit.
      if (to - from > room) to = Math.max(text.lastIndexOf('\n', from + room - 1), text.indexOf('\n', from)) + 1;
      const n = from === 0 && to === text.length ? count : countLines(text, from, to);
      this.push(this.cur + text.slice(from, to), line, n);
      line += n;
      from = to;
    }
  }

  private push(out: string, firstLine: number, count: number): void {
    this.curRows += count;
    if (out.length >= BATCH_PIECE_CHARS) {
      this.flush(out);
      out = '';
    }
    this.cur = out;
    this.rows += count;
    const seg = this.segments;
    const n = seg.length;
    if (n > 0 && seg[n - 2] + seg[n - 1] === firstLine) seg[n - 1] += count;
    else seg.push(firstLine, count);
  }

  /** The source line of every row, in order. */
  lines(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.segments.length; i += 2) for (let k = 0; k < this.segments[i + 1]; k++) out.push(this.segments[i] + k);
    return out;
  }

  /** Flushes the last partial piece; call once, before handing the batch to a sink. */
  finish(): this {
    if (this.cur.length > 0) this.flush(this.cur);
    this.cur = '';
    return this;
  }

  /**
   * The batch in consecutive parts of at most about `maxBytes` (whole pieces; a part holds at least
   * one), with their row counts and the index of their first row.
   */
  parts(maxBytes: number): { pieces: Buffer[]; rows: number; firstRow: number }[] {
    const out: { pieces: Buffer[]; rows: number; firstRow: number }[] = [];
    let bytes = 0;
    let row = 0;
    for (let i = 0; i < this.pieces.length; i++) {
      const piece = this.pieces[i];
      let part = out[out.length - 1];
      if (!part || bytes + piece.length > maxBytes) {
        part = { pieces: [], rows: 0, firstRow: row };
        out.push(part);
        bytes = 0;
      }
      part.pieces.push(piece);
      part.rows += this.pieceRows[i];
      bytes += piece.length;
      row += this.pieceRows[i];
    }
    return out;
  }

  private flush(out: string): void {
    this.pieces.push(Buffer.from(out));
    this.pieceRows.push(this.curRows);
    this.curRows = 0;
  }
}

/** Lines (newlines) in `text` between `from` and `to`. */
function countLines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf('\n', from); i !== -1 && i < to; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * Groups converted rows into batches of at most `batchSize` rows. A batch holds rows of one owner (an
 * input: each has its own column mapping) and one column list; finished batches wait in `ready`.
 */
export class BatchAssembler {
  /** Finished batches, oldest first, for the loader. */
  readonly ready: CopyBatch[] = [];
  /** Every column name some finished batch wrote. */
  readonly fed = new Set<string>();
  private batch: CopyBatch | null = null;
  private owner: unknown = null;

  constructor(private readonly batchSize: number) {}

  /** The batch to add rows of `owner` to; a different owner or column count starts a new one. */
  current(owner: unknown, cols: { names: string[]; escape: boolean[] }, label: string): CopyBatch {
    let b = this.batch;
    if (b !== null && (this.owner !== owner || b.columns.length !== cols.names.length)) b = this.close();
    if (b === null) {
      b = this.batch = new CopyBatch(cols.names.slice(), cols.escape.slice(), label);
      this.owner = owner;
    }
    return b;
  }

  /** How many rows of `owner` the current batch still takes. */
  room(owner: unknown): number {
    return this.batch && this.owner === owner ? this.batchSize - this.batch.rows : this.batchSize;
  }

  /** Moves the current batch to `ready` once it is full. */
  added(): void {
    if (this.batch && this.batch.rows >= this.batchSize) this.close();
  }

  /** Moves the current batch, if it has rows, to `ready`. */
  close(): null {
    const b = this.batch;
    if (b && b.rows > 0) {
      this.ready.push(b.finish());
      for (const c of b.columns) this.fed.add(c);
    }
    this.batch = null;
    this.owner = null;
    return null;
  }
}

/**
 * Splits CSV-encoded COPY data into one string per row (without the newline): a newline ends a row
 * unless it is inside quotes.
 */
export function splitCsvRows(pieces: readonly Buffer[]): string[] {
  const text = Buffer.concat(pieces).toString('utf8');
  const rows: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) quoted = !quoted;
    else if (c === 10 && !quoted) {
      rows.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (start < text.length) rows.push(text.slice(start));
  return rows;
}
