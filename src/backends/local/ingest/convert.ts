/**
 * Source-to-table column mapping and row conversion (the `transform` stage): parsed records become
 * rows of PostgreSQL text values in the order of the COPY column list.
 */
import { sanitizeColumnNames, sanitizeIdentifier } from './identifiers';
import { describeBadValue } from './infer';
import type { TargetColumn } from './table';
import { convertJsonValue, convertText, kindNeedsEscape } from './values';

/** Receives the line and reason of a record that cannot be converted; may throw to stop the ingest. */
export type OnBadRow = (line: number, reason: string) => void;

/** The COPY column list of a mapping, with what the encoder and error messages need per column. */
export interface CopyColumns {
  /** Table column names, in COPY order. */
  names: string[];
  /** Conversion kind per COPY column. */
  kinds: number[];
  /** SQL type per COPY column (for messages). */
  types: string[];
  /** Whether values of the column may need quoting in COPY data. */
  escape: boolean[];
}

/** How the fields of one CSV input feed the table. */
export interface CsvMapping extends CopyColumns {
  /** Source field index per COPY column. */
  srcIdx: number[];
  /** Every field maps to the same-position column: rows are converted in place. */
  identity: boolean;
  /** Sanitised source names without a table column (or repeating one already mapped). */
  ignored: string[];
}

function addColumn(m: CopyColumns, c: TargetColumn): void {
  m.names.push(c.name);
  m.kinds.push(c.kind);
  m.types.push(c.type);
  m.escape.push(kindNeedsEscape(c.kind));
}

/**
 * Maps a CSV header onto table columns by sanitised name. Fields without a column are ignored (see
 * `ignored`); table columns without a field are left out of the COPY list so their defaults apply.
 */
export function mapCsvColumns(header: readonly string[], target: readonly TargetColumn[]): CsvMapping {
  const byName = new Map(target.map((c, i) => [c.name, i] as const));
  const used = new Set<number>();
  const m: CsvMapping = { names: [], kinds: [], types: [], escape: [], srcIdx: [], identity: true, ignored: [] };
  sanitizeColumnNames(header).forEach((name, i) => {
    const t = byName.get(name);
    if (t === undefined || used.has(t)) {
      m.ignored.push(name);
      return;
    }
    used.add(t);
    addColumn(m, target[t]);
    m.srcIdx.push(i);
  });
  m.identity = m.srcIdx.length === header.length;
  return m;
}

/**
 * Converts one CSV record for a mapping. Returns the row (the record's own array, converted in place,
 * when the mapping is the identity) or null after reporting the first unconvertible value to `onBad`.
 */
export function convertCsvRow(src: string[], m: CsvMapping, line: number, onBad: OnBadRow): (string | null)[] | null {
  const { kinds } = m;
  const n = kinds.length;
  // Reusing the parser's array saves one allocation per row in the common all-columns case.
  const out: (string | null)[] = m.identity ? src : new Array<string | null>(n);
  for (let j = 0; j < n; j++) {
    const v = src[m.identity ? j : m.srcIdx[j]];
    const c = v.length === 0 ? null : convertText(kinds[j], v);
    if (c === undefined) {
      onBad(line, describeBadValue(m.names[j], kinds[j], m.types[j], v));
      return null;
    }
    out[j] = c;
  }
  return out;
}

/**
 * Maps JSON object keys onto table columns. Keys of the first batch are seeded in order; a key first
 * seen later joins the COPY list if it names a table column not fed yet, otherwise it is ignored
 * (reported once through `onIgnored`).
 */
export class JsonMapper implements CopyColumns {
  readonly names: string[] = [];
  readonly kinds: number[] = [];
  readonly types: string[] = [];
  readonly escape: boolean[] = [];
  private readonly keyPos = new Map<string, number>();
  private readonly byName: Map<string, number>;
  private readonly used = new Set<number>();

  constructor(
    private readonly target: readonly TargetColumn[],
    private readonly onIgnored: (key: string, column: string) => void,
  ) {
    this.byName = new Map(target.map((c, i) => [c.name, i] as const));
  }

  /** Seeds the mapping with the first batch's keys (sanitised together, so duplicates get suffixes). */
  seed(keys: readonly string[]): void {
    sanitizeColumnNames(keys).forEach((name, i) => this.assign(keys[i], name));
  }

  /** COPY position of `key`, or -1 when it is ignored. */
  position(key: string): number {
    const pos = this.keyPos.get(key);
    return pos !== undefined ? pos : this.assign(key, sanitizeIdentifier(key, this.keyPos.size + 1));
  }

  private assign(key: string, name: string): number {
    const t = this.byName.get(name);
    let pos = -1;
    if (t !== undefined && !this.used.has(t)) {
      this.used.add(t);
      pos = this.names.length;
      addColumn(this, this.target[t]);
    } else {
      this.onIgnored(key, name);
    }
    this.keyPos.set(key, pos);
    return pos;
  }
}

/**
 * Converts one JSON object into a row of the mapper's current width (absent keys => NULL), or returns
 * null after reporting the first unconvertible value to `onBad`. May widen the mapper (new key).
 */
export function convertJsonRow(obj: Record<string, unknown>, mapper: JsonMapper, line: number, onBad: OnBadRow): (string | null)[] | null {
  const out: (string | null)[] = [];
  for (const key in obj) {
    const pos = mapper.position(key);
    if (pos < 0) continue;
    const v = obj[key];
    const c = convertJsonValue(mapper.kinds[pos], v);
    if (c === undefined) {
      onBad(line, describeBadValue(mapper.names[pos], mapper.kinds[pos], mapper.types[pos], v));
      return null;
    }
    out[pos] = c;
  }
  const width = mapper.names.length;
  for (let j = 0; j < width; j++) if (out[j] === undefined) out[j] = null;
  return out;
}
