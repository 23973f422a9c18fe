/** Public types of the ingestion engine (see {@link ingest}). */
import type { AddressPolicy } from '../../../net/address-policy';

/** Where data comes from. The LOCAL executor supports `LOCAL` and `HTTP`; the others fail PERMANENT. */
export type SourceType = 'LOCAL' | 'HTTP' | 'POSTGRES' | 'KAFKA' | 'S3' | 'SFTP';
/** How the bytes are laid out. `AUTO` decides per file, by extension then by content. */
export type DataFormat = 'AUTO' | 'CSV' | 'JSON' | 'NDJSON' | 'PARQUET';
/** The three stages every ingest reports. */
export type StageName = 'extract' | 'transform' | 'load';
/** Life cycle of a stage: PENDING -> RUNNING -> COMPLETED | FAILED; SKIPPED when never started because an earlier step failed. */
export type StageState = 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'SKIPPED';
/** Severity of a line sent to {@link IngestHooks.onLog}. */
export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

/** What to ingest, from where, into which table. */
export interface IngestSpec {
  /**
   * The source. LOCAL: `params.path` (a file, a directory, or a glob with `*`, `?`, `**`), `filePattern`
   * filters file names (default: every regular, non-hidden file). HTTP: `params.url`, optional
   * `params.headers` (string values, never logged), optional `params.timeoutMs` (default 30000: time to
   * response headers, and the longest silence allowed while reading the body).
   */
  source: { type: SourceType; params: Record<string, unknown>; filePattern?: string | null };
  format: DataFormat;
  /** Destination; both names must match `[A-Za-z0-9_]{1,63}` and are used verbatim (quoted, case kept). */
  destination: { schema: string; table: string };
  /** Rows per bulk write (processing.batchSize, default 10000 upstream). Must be a positive integer. */
  batchSize: number;
  /**
   * Largest tolerated share of bad rows (0..1), e.g. 0.1. Checked at the end, and as soon as a bad
   * row appears once at least 1000 rows were read; exceeding it fails the ingest PERMANENT.
   */
  maxFailedRowRatio: number;
  /** Default true. false => every created column is TEXT (an existing table's types still apply). */
  schemaInference?: boolean;
  /**
   * Upper bound on rows written per second (processing.maxRowsPerSecond), to spare a busy
   * destination; batches wait before being written. Default: no limit.
   */
  maxRowsPerSecond?: number | null;
  /**
   * When set, every LOCAL file read must lie inside one of these directories (symbolic links
   * resolved, checked at listing and again on the file opened); anything else fails PERMANENT.
   * Default: no restriction.
   */
  allowedRoots?: readonly string[] | null;
  /**
   * Where HTTP sources may connect (every hop of a redirect, on the resolved address); a refused
   * address fails PERMANENT ("address not allowed"). Default: anywhere.
   */
  allowedNetworks?: AddressPolicy | null;
}

/**
 * A stage's progress, in rows. `completedItems + failedItems` never reaches `totalItems` while rows
 * remain for the stage, so their ratio can be shown as its share done.
 */
export interface StageUpdate {
  stage: StageName;
  status: StageState;
  /** Rows the stage will handle in all; an estimate while {@link totalIsEstimate}. */
  totalItems: number;
  /** Rows the stage handled successfully (extract: read; transform: converted; load: written). */
  completedItems: number;
  /** Rows the stage refused (transform: unparseable or unconvertible; load: rejected by the database). */
  failedItems: number;
  /**
   * True while `totalItems` is extrapolated (from the bytes parsed so far against the inputs' sizes)
   * and may still be corrected; false once every input was read and the total is exact.
   */
  totalIsEstimate: boolean;
  message?: string;
}

/** Live counters of an ingest, mutated in place while it runs. */
export interface IngestStats {
  /** Records read from the source, good and bad. */
  rowsRead: number;
  /** Rows written to the destination table. */
  rowsLoaded: number;
  /** Bad rows (unparseable, wrong column count, unconvertible value, rejected by the database). */
  rowsFailed: number;
  /** Bytes read from the source (after HTTP content decoding). */
  bytesRead: number;
  /** Epoch milliseconds when {@link ingest} was called. */
  startedAt: number;
}

/**
 * Callbacks of one ingest. Exceptions thrown by `onStage`/`onLog` are swallowed: reporting must not
 * break loading.
 */
export interface IngestHooks {
  /** Aborting stops the ingest within about a second; `done` then rejects with kind CANCELLED. */
  signal: AbortSignal;
  /** Called when a stage's status or counts change; counts at most every 250 ms per stage, final states always. */
  onStage(update: StageUpdate): void;
  /** Human-readable log lines. Bad rows are WARN (first 100, then one summary line). */
  onLog(level: LogLevel, message: string): void;
}

/** Outcome of a successful ingest. */
export interface IngestResult {
  rowsRead: number;
  rowsLoaded: number;
  rowsFailed: number;
  bytesRead: number;
  /** Columns written (for an existing table: its columns that the source fed), with their SQL types. */
  columns: { name: string; type: string }[];
  /** The destination, quoted: `"schema"."table"`. */
  table: string;
}
