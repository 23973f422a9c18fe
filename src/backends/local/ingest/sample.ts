/**
 * Sampling the first records of a text with the ingest's own parsers, so that what a connection
 * test shows of a file is what an ingest would read from it.
 */
import { createParser, type ConcreteFormat, type RecordHandler } from './formats';

/** What {@link sampleRecords} read. */
export interface RecordSample {
  /** CSV: the header record (names as written); JSON and NDJSON: null. */
  header: string[] | null;
  /** Good records in input order: CSV string arrays, JSON/NDJSON objects. */
  records: unknown[];
  /** Records an ingest would count as bad rows, with their 1-based lines and reasons. */
  bad: { line: number; reason: string }[];
}

/** Thrown by the handler to stop the parser once enough records were read. */
const ENOUGH = Symbol('enough records');

/**
 * Parses at most `limit` good records from `text`, the start of an input in `format` (a leading BOM
 * is ignored), exactly as an ingest would. With `truncated` (text is only a prefix of the input), the
 * last record, which the cut may have shortened, is dropped and an unfinished JSON array is not an
 * error. Throws IngestError PERMANENT where an ingest of the same text would fail (a CSV header with
 * broken quoting, a JSON source that is not an array, ...).
 */
export function sampleRecords(text: string, format: ConcreteFormat, limit: number, opts: { truncated?: boolean } = {}): RecordSample {
  const sample: RecordSample = { header: null, records: [], bad: [] };
  const handler: RecordHandler<unknown> = {
    header: (names) => (sample.header = names),
    row: (record) => {
      sample.records.push(record);
      if (sample.records.length >= limit) throw ENOUGH;
    },
    bad: (line, reason) => void sample.bad.push({ line, reason }),
  };
  const parser = createParser(format, handler as RecordHandler<never>);
  try {
    parser.push(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    // Without end(), the parsers keep an incomplete last record to themselves.
    if (!opts.truncated) parser.end();
  } catch (err) {
    if (err !== ENOUGH) throw err;
  }
  return sample;
}
