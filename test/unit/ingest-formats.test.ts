import { BATCH_PIECE_CHARS, CopyBatch, splitCsvRows } from '../../src/backends/local/ingest/batch';
import { convertCsvRow, convertJsonRow, JsonMapper, mapCsvColumns } from '../../src/backends/local/ingest/convert';
import { createCsvParser, type CsvFastPath } from '../../src/backends/local/ingest/csv';
import { IngestError, fromDbError, isRowLevelPgError } from '../../src/backends/local/ingest/errors';
import { formatFromExtension, looksBinary, resolveFormat, sniffFormat, type RecordHandler } from '../../src/backends/local/ingest/formats';
import { matchGlob, matchSegment, hasGlobChars } from '../../src/backends/local/ingest/glob';
import { quoteDestination, quoteIdent, sanitizeColumnNames, sanitizeIdentifier } from '../../src/backends/local/ingest/identifiers';
import {
  classifyJsonValue,
  classifyText,
  inferColumns,
  joinKinds,
  kindOfPgType,
  sqlTypeOfKind,
} from '../../src/backends/local/ingest/infer';
import { createJsonArrayParser, createNdjsonParser } from '../../src/backends/local/ingest/json';
import { BadRowLog, StageReporter } from '../../src/backends/local/ingest/progress';
import { csvQuote } from '../../src/backends/local/ingest/sinks';
import { redactUrl } from '../../src/backends/local/ingest/sources';
import type { StageUpdate } from '../../src/backends/local/ingest/types';
import {
  K_BOOL,
  K_DATE,
  K_FLOAT,
  K_INT,
  K_INT2,
  K_INT4,
  K_JSON,
  K_NULL,
  K_TEXT,
  K_TS,
  convertJsonValue,
  convertText,
  isFloat,
  isValidRaw,
  parseBoolean,
  scanDateTime,
  scanInteger,
} from '../../src/backends/local/ingest/values';

/** Collects what a parser emits. */
function collector<T>() {
  const out = { header: null as string[] | null, rows: [] as { rec: T; line: number }[], bad: [] as { line: number; reason: string }[] };
  const handler: RecordHandler<T> = {
    header: (names) => (out.header = names),
    row: (rec, line) => out.rows.push({ rec, line }),
    bad: (line, reason) => out.bad.push({ line, reason }),
  };
  return { out, handler };
}

/** Feeds text to a parser in pieces of `size` characters (1 = worst case for chunk boundaries). */
function feed(parser: { push(t: string): void; end(): void }, text: string, size: number): void {
  for (let i = 0; i < text.length; i += size) parser.push(text.slice(i, i + size));
  parser.end();
}

describe('format detection', () => {
  it('maps extensions case-insensitively', () => {
    expect(formatFromExtension('/data/a.CSV')).toBe('CSV');
    expect(formatFromExtension('x.json')).toBe('JSON');
    expect(formatFromExtension('x.ndjson')).toBe('NDJSON');
    expect(formatFromExtension('x.jsonl')).toBe('NDJSON');
    expect(formatFromExtension('x.parquet')).toBe('PARQUET');
    expect(formatFromExtension('x.txt')).toBeNull();
    expect(formatFromExtension('noext')).toBeNull();
  });

  it('sniffs the first non-whitespace character', () => {
    expect(sniffFormat('  \n [{"a":1}]')).toBe('JSON');
    expect(sniffFormat('\ufeff{"a":1}\n')).toBe('NDJSON');
    expect(sniffFormat('a,b\n1,2\n')).toBe('CSV');
    expect(sniffFormat('PAR1....')).toBe('PARQUET');
    expect(sniffFormat('   \n\t')).toBeNull();
    expect(sniffFormat('')).toBeNull();
  });

  it('resolves AUTO by extension first, then content', () => {
    expect(resolveFormat('AUTO', 'data.csv', '[1]')).toBe('CSV');
    expect(resolveFormat('AUTO', '/api/export', '[{"a":1}]')).toBe('JSON');
    expect(resolveFormat('AUTO', 'data.txt', '{"a":1}')).toBe('NDJSON');
    expect(resolveFormat('AUTO', 'data.txt', 'a,b')).toBe('CSV');
    expect(resolveFormat('NDJSON', 'data.csv', '{"a":1}')).toBe('NDJSON');
  });

  it('refuses PARQUET and binary content as PERMANENT', () => {
    const parquet = () => resolveFormat('AUTO', 'x.parquet', 'PAR1');
    expect(parquet).toThrow(IngestError);
    expect(parquet).toThrow('PARQUET is not supported by the LOCAL executor; use the SPARK backend');
    expect(() => resolveFormat('PARQUET', 'x', '')).toThrow(/SPARK backend/);
    try {
      resolveFormat('AUTO', 'garbage.bin', 'ab\u0000\u0001\ufffd');
      throw new Error('not thrown');
    } catch (err) {
      expect((err as IngestError).kind).toBe('PERMANENT');
      expect((err as IngestError).message).toMatch(/binary/);
    }
  });

  it('flags NUL bytes and invalid UTF-8 as binary', () => {
    expect(looksBinary('a,b\n1,2\n')).toBe(false);
    expect(looksBinary('caf\u00e9,na\u00efve\n')).toBe(false);
    expect(looksBinary('x\u0000y')).toBe(true);
    expect(looksBinary('\ufffd'.repeat(10) + 'a'.repeat(100))).toBe(true);
  });
});

describe('type inference', () => {
  it('classifies text values', () => {
    expect(classifyText('')).toBe(K_NULL);
    expect(classifyText('42')).toBe(K_INT);
    expect(classifyText('-9223372036854775808')).toBe(K_INT);
    expect(classifyText('9223372036854775808')).toBe(K_FLOAT);
    expect(classifyText('0')).toBe(K_INT);
    expect(classifyText('02134')).toBe(K_TEXT); // zip code keeps its zero
    expect(classifyText('3.14')).toBe(K_FLOAT);
    expect(classifyText('-1e-3')).toBe(K_FLOAT);
    expect(classifyText('true')).toBe(K_BOOL);
    expect(classifyText('FALSE')).toBe(K_BOOL);
    expect(classifyText('yes')).toBe(K_TEXT);
    expect(classifyText('2024-02-29')).toBe(K_DATE);
    expect(classifyText('2023-02-29')).toBe(K_TEXT);
    expect(classifyText('2024-01-02T03:04:05Z')).toBe(K_TS);
    expect(classifyText('2024-01-02 03:04:05.123+02:00')).toBe(K_TS);
    expect(classifyText('2024-01-02T03:04')).toBe(K_TS);
    expect(classifyText('2024-13-02')).toBe(K_TEXT);
    expect(classifyText('hello')).toBe(K_TEXT);
    expect(classifyText('1.2.3')).toBe(K_TEXT);
  });

  it('classifies JSON values', () => {
    expect(classifyJsonValue(null)).toBe(K_NULL);
    expect(classifyJsonValue(7)).toBe(K_INT);
    expect(classifyJsonValue(7.5)).toBe(K_FLOAT);
    expect(classifyJsonValue(2 ** 60)).toBe(K_FLOAT);
    expect(classifyJsonValue(true)).toBe(K_BOOL);
    expect(classifyJsonValue({ a: 1 })).toBe(K_JSON);
    expect(classifyJsonValue([1])).toBe(K_JSON);
    expect(classifyJsonValue('2024-01-01')).toBe(K_DATE);
  });

  it('joins kinds to the narrowest common type', () => {
    expect(joinKinds(K_INT, K_FLOAT)).toBe(K_FLOAT);
    expect(joinKinds(K_DATE, K_TS)).toBe(K_TS);
    expect(joinKinds(K_NULL, K_BOOL)).toBe(K_BOOL);
    expect(joinKinds(K_INT, K_BOOL)).toBe(K_TEXT);
    expect(joinKinds(K_TEXT, K_JSON)).toBe(K_JSON);
  });

  it('infers CSV columns from the header and sample, NULLs not voting', () => {
    const res = inferColumns(
      'CSV',
      ['ID', 'Amount', 'When', 'Flag', 'Note', 'Empty'],
      [
        ['1', '1', '2024-01-01', 'true', 'x', ''],
        ['2', '2.5', '2024-01-01T00:00:00Z', '', 'y', ''],
        ['3', '', '', 'false', '42', ''],
      ],
      true,
    );
    expect(res.names).toEqual(['id', 'amount', 'when', 'flag', 'note', 'empty']);
    expect(res.kinds.map(sqlTypeOfKind)).toEqual(['BIGINT', 'DOUBLE PRECISION', 'TIMESTAMPTZ', 'BOOLEAN', 'TEXT', 'TEXT']);
    expect(inferColumns('CSV', ['a'], [['1']], false).kinds).toEqual([K_TEXT]);
  });

  it('keeps a numeric type when a stray text value is an outlier, so that row is a bad row', () => {
    const rows = Array.from({ length: 99 }, (_, i) => [String(i), `${i}.5`]);
    rows.splice(40, 0, ['abc', 'n/a']);
    expect(inferColumns('CSV', ['id', 'amount'], rows, true).kinds.map(sqlTypeOfKind)).toEqual(['BIGINT', 'DOUBLE PRECISION']);
    // Beyond 2 % of text values the column really is text.
    const mixed = Array.from({ length: 50 }, (_, i) => [i % 10 === 0 ? `x${i}` : String(i)]);
    expect(inferColumns('CSV', ['code'], mixed, true).kinds.map(sqlTypeOfKind)).toEqual(['TEXT']);
    // A small sample decides nothing from one value either way.
    expect(inferColumns('CSV', ['v'], [['1'], ['abc']], true).kinds.map(sqlTypeOfKind)).toEqual(['TEXT']);
  });

  it('infers JSON columns from the union of keys, nested values as JSONB', () => {
    const res = inferColumns(
      'JSON',
      null,
      [
        { id: 1, tags: ['a'] },
        { id: 2, meta: { k: 1 }, 'Full Name': 'x' },
      ],
      true,
    );
    expect(res.keys).toEqual(['id', 'tags', 'meta', 'Full Name']);
    expect(res.names).toEqual(['id', 'tags', 'meta', 'full_name']);
    expect(res.kinds.map(sqlTypeOfKind)).toEqual(['BIGINT', 'JSONB', 'JSONB', 'TEXT']);
  });

  it('maps existing PostgreSQL types to kinds', () => {
    expect(kindOfPgType('bigint')).toBe(K_INT);
    expect(kindOfPgType('integer')).toBe(K_INT4);
    expect(kindOfPgType('smallint')).toBe(K_INT2);
    expect(kindOfPgType('numeric')).toBe(K_FLOAT);
    expect(kindOfPgType('timestamp without time zone')).toBe(K_TS);
    expect(kindOfPgType('jsonb')).toBe(K_JSON);
    expect(kindOfPgType('character varying')).toBe(K_TEXT);
  });
});

describe('value conversion', () => {
  it('scans integers, floats, booleans and date-times, also within a range', () => {
    expect(scanInteger(' 12 ')).toBe(1);
    expect(scanInteger('9223372036854775807')).toBe(1);
    expect(scanInteger('9223372036854775808')).toBe(2);
    expect(scanInteger('-')).toBe(0);
    expect(scanInteger('1x')).toBe(0);
    expect(scanInteger('a,123,b', 2, 5)).toBe(1);
    expect(isFloat('1.5e3')).toBe(true);
    expect(isFloat('.5')).toBe(true);
    expect(isFloat('-Infinity')).toBe(true);
    expect(isFloat('NaN')).toBe(true);
    expect(isFloat('1e400')).toBe(false);
    expect(isFloat('1e')).toBe(false);
    expect(isFloat('0x10')).toBe(false);
    expect(isFloat('x,2.5,', 2, 5)).toBe(true);
    expect(parseBoolean('TRUE', true)).toBe(1);
    expect(parseBoolean('yes', true)).toBe(-1);
    expect(parseBoolean('yes', false)).toBe(1);
    expect(parseBoolean(' off ', false)).toBe(0);
    expect(scanDateTime('2024-01-02')).toBe(K_DATE);
    expect(scanDateTime('2024-01-02T10:00:00.5+0530')).toBe(K_TS);
    expect(scanDateTime('2024-01-02T24:00:00')).toBe(K_TS);
    expect(scanDateTime('2024-01-02T24:00:01')).toBe(0);
    expect(scanDateTime('2024-01-02T10')).toBe(0);
    // A range must not read past its end (the CSV fast path scans inside a whole line).
    expect(scanDateTime('2024-01-02T10:00,12:30:00Z', 0, 13)).toBe(0);
    expect(scanDateTime('x,2024-01-02T10:00:00Z,y', 2, 22)).toBe(K_TS);
  });

  it('converts text to PostgreSQL input or flags it', () => {
    expect(convertText(K_INT, '')).toBeNull();
    expect(convertText(K_INT, ' 42 ')).toBe('42');
    expect(convertText(K_INT, 'abc')).toBeUndefined();
    expect(convertText(K_INT4, '3000000000')).toBeUndefined();
    expect(convertText(K_INT2, '-32768')).toBe('-32768');
    expect(convertText(K_FLOAT, '1.5')).toBe('1.5');
    expect(convertText(K_BOOL, 'Yes')).toBe('t');
    expect(convertText(K_BOOL, 'false')).toBe('f');
    expect(convertText(K_BOOL, 'maybe')).toBeUndefined();
    expect(convertText(K_DATE, '2024-02-30')).toBeUndefined();
    expect(convertText(K_TS, '2024-01-01 10:00')).toBe('2024-01-01 10:00');
    expect(convertText(K_TEXT, 'a\tb')).toBe('a\tb');
    expect(convertText(K_TEXT, 'nul\u0000')).toBeUndefined();
    expect(convertText(K_JSON, '{"a":1}')).toBe('{"a":1}');
    expect(convertText(K_JSON, '{bad')).toBeUndefined();
  });

  it('converts JSON values', () => {
    expect(convertJsonValue(K_INT, 5)).toBe('5');
    expect(convertJsonValue(K_INT, 5.5)).toBeUndefined();
    expect(convertJsonValue(K_INT, 1e18)).toBe('1000000000000000000');
    expect(convertJsonValue(K_FLOAT, 0.1)).toBe('0.1');
    expect(convertJsonValue(K_BOOL, true)).toBe('t');
    expect(convertJsonValue(K_TEXT, true)).toBe('true');
    expect(convertJsonValue(K_JSON, { a: [1] })).toBe('{"a":[1]}');
    expect(convertJsonValue(K_JSON, 'x')).toBe('"x"');
    expect(convertJsonValue(K_TEXT, { a: 1 })).toBe('{"a":1}');
    expect(convertJsonValue(K_TS, '2024-01-01T00:00:00Z')).toBe('2024-01-01T00:00:00Z');
    expect(convertJsonValue(K_TS, 5)).toBeUndefined();
    expect(convertJsonValue(K_TEXT, null)).toBeNull();
    expect(convertJsonValue(K_TEXT, '')).toBeNull();
  });

  it('validates raw fields for the fast path without slicing', () => {
    const line = '12,abc,2.5,true,2024-01-01T00:00:00Z,t';
    expect(isValidRaw(K_INT, line, 0, 2)).toBe(true);
    expect(isValidRaw(K_INT, line, 3, 6)).toBe(false);
    expect(isValidRaw(K_FLOAT, line, 7, 10)).toBe(true);
    expect(isValidRaw(K_BOOL, line, 11, 15)).toBe(true);
    expect(isValidRaw(K_TS, line, 16, 36)).toBe(true);
    expect(isValidRaw(K_BOOL, line, 37, 38)).toBe(true);
    expect(isValidRaw(K_JSON, line, 0, 2)).toBe(false);
  });

  it('converts CSV rows through a mapping and reports bad values with the line', () => {
    const target = [
      { name: 'id', type: 'BIGINT', kind: K_INT },
      { name: 'name', type: 'TEXT', kind: K_TEXT },
    ];
    const m = mapCsvColumns(['Name', 'ID', 'Extra'], target);
    expect(m.names).toEqual(['name', 'id']);
    expect(m.ignored).toEqual(['extra']);
    expect(m.identity).toBe(false);
    const bad: string[] = [];
    expect(convertCsvRow(['x', '7', 'z'], m, 2, (l, r) => bad.push(`${l}:${r}`))).toEqual(['x', '7']);
    expect(convertCsvRow(['', 'abc', 'z'], m, 3, (l, r) => bad.push(`${l}:${r}`))).toBeNull();
    expect(bad).toEqual(['3:column "id": invalid BIGINT value "abc"']);
  });

  it('maps JSON keys, widening for later keys that name a table column', () => {
    const target = [
      { name: 'a', type: 'BIGINT', kind: K_INT },
      { name: 'b', type: 'TEXT', kind: K_TEXT },
    ];
    const ignored: string[] = [];
    const mapper = new JsonMapper(target, (key) => ignored.push(key));
    mapper.seed(['a', 'zz']);
    expect(mapper.names).toEqual(['a']);
    expect(convertJsonRow({ a: 1, zz: 2 }, mapper, 1, () => undefined)).toEqual(['1']);
    expect(convertJsonRow({ B: 'x' }, mapper, 2, () => undefined)).toEqual([null, 'x']);
    expect(mapper.names).toEqual(['a', 'b']);
    expect(ignored).toEqual(['zz']);
  });
});

describe('identifiers', () => {
  it('sanitises column names into lowercase identifiers', () => {
    expect(sanitizeIdentifier('Order ID', 1)).toBe('order_id');
    expect(sanitizeIdentifier('  (amount) ', 1)).toBe('amount');
    expect(sanitizeIdentifier('Café Crème', 1)).toBe('cafe_creme');
    expect(sanitizeIdentifier('_id', 1)).toBe('_id');
    expect(sanitizeIdentifier('2nd', 1)).toBe('c_2nd');
    expect(sanitizeIdentifier('"; DROP TABLE x; --', 1)).toBe('drop_table_x');
    expect(sanitizeIdentifier('%%%', 4)).toBe('column_4');
    expect(sanitizeIdentifier('x'.repeat(100), 1)).toHaveLength(63);
  });

  it('deduplicates sanitised names', () => {
    expect(sanitizeColumnNames(['A', 'a', 'a_2', ''])).toEqual(['a', 'a_2', 'a_2_2', 'column_4']);
    const long = sanitizeColumnNames(['y'.repeat(70), 'y'.repeat(70)]);
    expect(long[1]).toHaveLength(63);
    expect(long[1].endsWith('_2')).toBe(true);
  });

  it('validates and quotes destinations', () => {
    expect(quoteDestination('raw', 'Events_2024')).toBe('"raw"."Events_2024"');
    expect(quoteIdent('we"ird')).toBe('"we""ird"');
    for (const [schema, table] of [
      ['raw', 'a-b'],
      ['', 't'],
      ['s', 'x'.repeat(64)],
      ['s"', 't'],
      ['public', 'a;drop'],
    ]) {
      expect(() => quoteDestination(schema, table)).toThrow(IngestError);
    }
  });
});

describe('glob matching', () => {
  it('matches * and ? within a segment, not dot files', () => {
    expect(hasGlobChars('/data/*.csv')).toBe(true);
    expect(hasGlobChars('/data/a.csv')).toBe(false);
    expect(matchSegment('*.csv', 'a.csv')).toBe(true);
    expect(matchSegment('*.csv', 'a.csv.bak')).toBe(false);
    expect(matchSegment('part-??.csv', 'part-01.csv')).toBe(true);
    expect(matchSegment('part-??.csv', 'part-1.csv')).toBe(false);
    expect(matchSegment('*', '.hidden')).toBe(false);
    expect(matchSegment('.*', '.hidden')).toBe(true);
    expect(matchSegment('a+b(1).csv', 'a+b(1).csv')).toBe(true);
  });

  it('matches ** across directories', () => {
    expect(matchGlob('/data/**/*.csv', '/data/a.csv')).toBe(true);
    expect(matchGlob('/data/**/*.csv', '/data/x/y/a.csv')).toBe(true);
    expect(matchGlob('/data/**/*.csv', '/data/x/.git/a.csv')).toBe(false);
    expect(matchGlob('/data/*/a.csv', '/data/x/y/a.csv')).toBe(false);
    expect(matchGlob('/data/**', '/data/x/y/a.csv')).toBe(true);
    expect(matchGlob('data/2024-??/*.json', 'data/2024-01/e.json')).toBe(true);
  });
});

describe('COPY encoding', () => {
  it('quotes CSV values only when needed, keeping empty strings apart from NULL', () => {
    expect(csvQuote('plain text\t\\')).toBe('plain text\t\\');
    expect(csvQuote('a,b')).toBe('"a,b"');
    expect(csvQuote('say "hi"')).toBe('"say ""hi"""');
    expect(csvQuote('two\nlines')).toBe('"two\nlines"');
    expect(csvQuote('')).toBe('""');
    expect(csvQuote('\\.')).toBe('"\\."');
  });

  it('builds CSV batches that split back into the rows, with their source lines', () => {
    const b = new CopyBatch(['a', 'b'], [false, true], 'f.csv');
    b.add(['1', 'x,y'], 2);
    b.addEncoded('2,z\n3,w\n', 3, 2);
    b.add(['4', null], 5);
    b.add(['5', 'multi\n"line"'], 9);
    b.add(['6', ''], 10);
    b.finish();
    expect(b.rows).toBe(6);
    expect(b.lines()).toEqual([2, 3, 4, 5, 9, 10]);
    const rows = splitCsvRows(b.pieces);
    expect(rows).toEqual(['1,"x,y"', '2,z', '3,w', '4,', '5,"multi\n""line"""', '6,""']);
  });
  it('cuts a batch into pieces of whole rows near the piece size, and into parts of a bounded size', () => {
    const b = new CopyBatch(['a', 'b'], [false, false], 'f.csv');
    const line = (i: number) => `${i},${'x'.repeat(94)}\n`; // 100 characters with the newline
    let run = '';
    for (let i = 1; i <= 1500; i++) run += line(i);
    b.addEncoded(run, 2, 1500); // one long fast-path run: 150,000 characters
    b.add(['1501', 'y'], 1502);
    b.finish();
    expect(b.rows).toBe(1501);
    expect(b.pieceRows.reduce((x, y) => x + y, 0)).toBe(1501);
    for (const p of b.pieces.slice(0, -1)) {
      expect(p.length).toBeGreaterThan(BATCH_PIECE_CHARS - 100);
      expect(p.length).toBeLessThanOrEqual(BATCH_PIECE_CHARS + 100);
    }
    expect(splitCsvRows(b.pieces)).toHaveLength(1501);
    b.pieces.forEach((p, i) => expect(splitCsvRows([p])).toHaveLength(b.pieceRows[i]));
    const parts = b.parts(BATCH_PIECE_CHARS);
    expect(parts.length).toBe(b.pieces.length);
    expect(parts.map((p) => p.firstRow)).toEqual(b.pieceRows.map((_, i) => b.pieceRows.slice(0, i).reduce((x, y) => x + y, 0)));
    expect(b.parts(Infinity)).toEqual([{ pieces: b.pieces, rows: 1501, firstRow: 0 }]);
    expect(b.lines().slice(parts[1].firstRow, parts[1].firstRow + 2)).toEqual([parts[1].firstRow + 2, parts[1].firstRow + 3]);
  });
});

describe('CSV parser', () => {
  const text = 'id,name,note\r\n1,"Smith, J","said ""hi"""\r\n\r\n2,plain,"two\nlines"\r\n3,short\r\n4,x,"unterminated\n';

  it.each([1, 3, 7, 1 << 16])('parses quotes, CRLF, quoted newlines and bad rows (pieces of %i)', (size) => {
    const { out, handler } = collector<string[]>();
    feed(createCsvParser(handler), text, size);
    expect(out.header).toEqual(['id', 'name', 'note']);
    expect(out.rows).toEqual([
      { rec: ['1', 'Smith, J', 'said "hi"'], line: 2 },
      { rec: ['2', 'plain', 'two\nlines'], line: 4 },
    ]);
    expect(out.bad).toEqual([
      { line: 6, reason: 'expected 3 columns, got 2' },
      { line: 7, reason: 'unterminated quoted field' },
    ]);
  });

  it('handles a last line without newline and literal quotes inside unquoted fields', () => {
    const { out, handler } = collector<string[]>();
    feed(createCsvParser(handler), 'a,b\nx"y,2\n3,4', 2);
    expect(out.rows.map((r) => r.rec)).toEqual([
      ['x"y', '2'],
      ['3', '4'],
    ]);
    expect(out.rows.map((r) => r.line)).toEqual([2, 3]);
  });

  it('reports garbage after a closing quote as a bad row', () => {
    const { out, handler } = collector<string[]>();
    feed(createCsvParser(handler), 'a,b\n"x"y,1\n2,3\n', 4);
    expect(out.bad).toEqual([{ line: 2, reason: 'unexpected character after a closing quote' }]);
    expect(out.rows).toEqual([{ rec: ['2', '3'], line: 3 }]);
  });

  it('refuses a record longer than the limit (unbalanced quote) as PERMANENT', () => {
    const { handler } = collector<string[]>();
    const p = createCsvParser(handler, 100);
    p.push('a,b\n"');
    expect(() => p.push('x'.repeat(200))).toThrow(/longer than 100 characters/);
  });

  /** What a parser fed `text` in pieces of `size` throws (an IngestError), or null. */
  function csvFailure(text: string, size: number): IngestError | null {
    const { handler } = collector<string[]>();
    try {
      feed(createCsvParser(handler), text, size);
      return null;
    } catch (err) {
      expect(err).toBeInstanceOf(IngestError);
      return err as IngestError;
    }
  }

  it.each([1, 5, 1 << 16])('refuses a header with an unterminated quote as PERMANENT (pieces of %i)', (size) => {
    const err = csvFailure('id,"name,amount\n1,a,2.5\n2,b,3\n', size);
    expect(err?.kind).toBe('PERMANENT');
    expect(err?.message).toBe('CSV header has an unterminated quote (line 1)');
  });

  it('refuses a header with garbage after a closing quote as PERMANENT', () => {
    expect(csvFailure('id,"name"x,amount\n1,a,2\n', 4)?.message).toBe(
      'CSV header is malformed (line 1): unexpected character after a closing quote',
    );
  });

  it('names the header when an unterminated header quote runs past the record limit', () => {
    const { handler } = collector<string[]>();
    const p = createCsvParser(handler, 100);
    p.push('id,"name\n');
    expect(() => p.push('1,x\n'.repeat(50))).toThrow(
      'CSV header has an unterminated quote (line 1): no closing quote within 100 characters',
    );
  });

  it.each([1, 7, 1 << 16])('fails PERMANENT when an unterminated quote would swallow the rest of the input (pieces of %i)', (size) => {
    const err = csvFailure('id,name\n1,a\n2,"b\n3,c\n4,d\n\n', size);
    expect(err?.kind).toBe('PERMANENT');
    expect(err?.message).toBe(
      'CSV record at line 3 has an unterminated quote: its quoted field would run to the end of the input, taking in 2 more lines',
    );
  });

  it('reports every line an unbalanced quote took in as a bad row, then resumes', () => {
    const { out, handler } = collector<string[]>();
    feed(createCsvParser(handler), 'a,b,c\n1,2,"x\n4,5,6\n\n7,8",9\n10,"y\n11,12"q,13\n14,15,16\n', 3);
    expect(out.bad).toEqual([
      { line: 2, reason: 'expected 3 columns, got 4; the record runs on to line 5 (unbalanced quote?)' },
      { line: 3, reason: 'taken into the record at line 2 by an unbalanced quote' },
      { line: 5, reason: 'taken into the record at line 2 by an unbalanced quote' },
      { line: 6, reason: 'unexpected character after a closing quote; the record runs on to line 7 (unbalanced quote?)' },
      { line: 7, reason: 'taken into the record at line 6 by an unbalanced quote' },
    ]);
    expect(out.rows).toEqual([{ rec: ['14', '15', '16'], line: 8 }]);
  });

  it('hands valid lines to the fast path verbatim and the rest to the normal path, in order', () => {
    const { out, handler } = collector<string[]>();
    const runs: { text: string; first: number; count: number }[] = [];
    const order: string[] = [];
    const fast: CsvFastPath = {
      kinds: [K_INT, K_TEXT],
      room: () => 2,
      run: (t, first, count) => {
        runs.push({ text: t, first, count });
        order.push(`run@${first}`);
      },
    };
    handler.fastPath = () => fast;
    const row = handler.row;
    handler.row = (rec, line) => {
      order.push(`row@${line}`);
      row(rec, line);
    };
    const bad = handler.bad;
    handler.bad = (line, reason) => {
      order.push(`bad@${line}`);
      bad(line, reason);
    };
    feed(createCsvParser(handler), 'id,t\n1,a\n2,b\n3,c\nx,d\n5,\n6,"q"\n7,e\t\\\n8,f\r\n9,g\n', 1 << 16);
    expect(runs).toEqual([
      { text: '1,a\n2,b\n', first: 2, count: 2 },
      { text: '3,c\n', first: 4, count: 1 },
      { text: '7,e\t\\\n', first: 8, count: 1 },
      { text: '9,g\n', first: 10, count: 1 },
    ]);
    expect(out.rows.map((r) => [r.line, r.rec])).toEqual([
      [5, ['x', 'd']],
      [6, ['5', '']],
      [7, ['6', 'q']],
      [9, ['8', 'f']],
    ]);
    expect(order).toEqual(['run@2', 'run@4', 'row@5', 'row@6', 'row@7', 'run@8', 'row@9', 'run@10']);
  });
});

describe('JSON parsers', () => {
  const array = '[\n  {"a": 1, "s": "x]},{"},\n  {"a": 2, "nested": {"b": [1, 2]}},\n  42,\n  {"a": bad},\n  {"a": "\\"q\\""}\n]\n';

  it.each([1, 5, 1 << 16])('splits a top-level array element by element (pieces of %i)', (size) => {
    const { out, handler } = collector<Record<string, unknown>>();
    feed(createJsonArrayParser(handler), array, size);
    expect(out.rows).toEqual([
      { rec: { a: 1, s: 'x]},{' }, line: 2 },
      { rec: { a: 2, nested: { b: [1, 2] } }, line: 3 },
      { rec: { a: '"q"' }, line: 6 },
    ]);
    expect(out.bad.map((b) => b.line)).toEqual([4, 5]);
    expect(out.bad[0].reason).toBe('expected a JSON object, got a number');
    expect(out.bad[1].reason).toMatch(/^invalid JSON/);
  });

  it('accepts an empty array and an empty input', () => {
    for (const input of ['[]', ' [ ] ', '', '  \n']) {
      const { out, handler } = collector<Record<string, unknown>>();
      feed(createJsonArrayParser(handler), input, 1);
      expect(out.rows).toHaveLength(0);
    }
  });

  it('refuses non-arrays, trailing data and truncated arrays as PERMANENT', () => {
    for (const input of ['{"a":1}', '[{"a":1}] x', '[{"a":1},']) {
      const { handler } = collector<Record<string, unknown>>();
      let err: unknown;
      try {
        feed(createJsonArrayParser(handler), input, 3);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(IngestError);
      expect((err as IngestError).kind).toBe('PERMANENT');
    }
  });

  it('parses NDJSON line by line, bad lines being bad rows', () => {
    const { out, handler } = collector<Record<string, unknown>>();
    feed(createNdjsonParser(handler), '{"a":1}\r\n\n{"a":\n[1]\n{"b":"x"}', 2);
    expect(out.rows).toEqual([
      { rec: { a: 1 }, line: 1 },
      { rec: { b: 'x' }, line: 5 },
    ]);
    expect(out.bad.map((b) => b.line)).toEqual([3, 4]);
    expect(out.bad[1].reason).toBe('expected a JSON object, got an array');
  });
});

describe('progress', () => {
  it('throttles count updates but always emits status changes and final states', () => {
    jest.useFakeTimers();
    try {
      const updates: StageUpdate[] = [];
      const r = new StageReporter((u) => updates.push(u));
      r.update('extract', { status: 'RUNNING' });
      for (let i = 1; i <= 100; i++) r.update('extract', { completedItems: i });
      expect(updates).toHaveLength(1);
      jest.advanceTimersByTime(300);
      expect(updates[updates.length - 1].completedItems).toBe(100);
      r.finish('COMPLETED');
      expect(updates.slice(-3).map((u) => `${u.stage}:${u.status}`)).toEqual([
        'extract:COMPLETED',
        'transform:COMPLETED',
        'load:COMPLETED',
      ]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('marks never-started stages SKIPPED on failure', () => {
    const updates: StageUpdate[] = [];
    const r = new StageReporter((u) => updates.push(u));
    r.update('extract', { status: 'RUNNING' });
    r.finish('FAILED', 'boom');
    expect(updates.slice(-3).map((u) => u.status)).toEqual(['FAILED', 'SKIPPED', 'SKIPPED']);
    expect(updates[updates.length - 3].message).toBe('boom');
  });

  it('caps bad-row log lines', () => {
    const lines: string[] = [];
    const log = new BadRowLog((_l, m) => lines.push(m), 3);
    for (let i = 1; i <= 10; i++) log.record('f.csv', i, 'r');
    log.summary();
    expect(lines).toEqual([
      'bad row at line 1 of f.csv: r',
      'bad row at line 2 of f.csv: r',
      'bad row at line 3 of f.csv: r',
      'more than 3 bad rows: further bad rows are counted but not logged',
      '10 bad rows in total, 7 not logged individually',
    ]);
  });
});

describe('errors and URLs', () => {
  it('classifies database errors', () => {
    expect(isRowLevelPgError({ code: '22P02' })).toBe(true);
    expect(isRowLevelPgError({ code: '23502' })).toBe(true);
    expect(isRowLevelPgError({ code: '42P01' })).toBe(false);
    expect(fromDbError(Object.assign(new Error('gone'), { code: '57P01' }), 'x').kind).toBe('TRANSIENT');
    expect(fromDbError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), 'x').kind).toBe('TRANSIENT');
    expect(fromDbError(new Error('Connection terminated unexpectedly'), 'x').kind).toBe('TRANSIENT');
    // What node-postgres says of every statement on a client whose connection the server cut (a restart mid-load).
    expect(fromDbError(new Error('Client has encountered a connection error and is not queryable'), 'x').kind).toBe('TRANSIENT');
    expect(fromDbError(new Error('Connection ended unexpectedly'), 'x').kind).toBe('TRANSIENT');
    expect(fromDbError(Object.assign(new Error('denied'), { code: '42501' }), 'x').kind).toBe('PERMANENT');
  });

  it('redacts userinfo and query strings', () => {
    expect(redactUrl('https://user:secret@example.com:8443/data/x.csv?token=abc#f')).toBe('https://example.com:8443/data/x.csv');
    expect(redactUrl('not a url')).toBe('<invalid URL>');
  });
});
