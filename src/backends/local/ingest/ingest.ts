/**
 * The ingestion pipeline: source -> parser -> (first rows: type inference, table setup) -> conversion
 * -> COPY-encoded batch -> bulk load. Streaming, with about two batches in memory: one being filled
 * (already encoded), one being written.
 */
import { BatchAssembler } from './batch';
import { convertCsvRow, convertJsonRow, JsonMapper, mapCsvColumns, type CopyColumns, type CsvMapping, type OnBadRow } from './convert';
import { IngestError, cancelled, fromDbError, permanent } from './errors';
import type { CsvFastPath } from './csv';
import { PARQUET_UNSUPPORTED, type ConcreteFormat, type RecordHandler } from './formats';
import { quoteDestination } from './identifiers';
import { inferColumns, sqlTypeOfKind } from './infer';
import { BatchLoader } from './loader';
import { BadRowLog, StageReporter, safeCall, stageCounts, type IngestCounters } from './progress';
import { readInput } from './reader';
import type { LoadSink } from './sinks';
import { resolveSource, type SourceInput } from './sources';
import { ensureTable, type TargetColumn } from './table';
import type { IngestHooks, IngestResult, IngestSpec, IngestStats, LogLevel } from './types';
import { K_JSON } from './values';

/** Rows sampled for type inference: the first batch, capped. */
export const MAX_SAMPLE_ROWS = 10_000;
/** Bad-row ratio is checked early only once this many rows were read. */
export const EARLY_RATIO_MIN_ROWS = 1000;
/** On abort, how long an in-flight batch write may still finish before `done` rejects anyway. */
const ABORT_GRACE_MS = 500;

interface InputState {
  label: string;
  format: ConcreteFormat;
  header: string[] | null;
  csv: CsvMapping | null;
  /** The CSV fast path, once decided (null: this input cannot take it); undefined until the table is known. */
  fast?: CsvFastPath | null;
  onBad: OnBadRow;
}

interface SampleRow {
  input: InputState;
  record: unknown;
  line: number;
}

/**
 * Starts ingesting `spec`'s source into its destination through `sink`.
 *
 * Returns at once: `stats` is a live object updated as rows flow; `done` resolves with the result
 * or rejects with an {@link IngestError} (never throws synchronously): PERMANENT for bad specs,
 * missing/unsupported sources and formats, unreadable input, or too many bad rows; TRANSIENT for
 * network and database availability problems; CANCELLED when `hooks.signal` aborts. Batches
 * already written stay in the table when a later step fails (each batch is atomic, the ingest is not).
 */
export function ingest(spec: IngestSpec, sink: LoadSink, hooks: IngestHooks): { stats: IngestStats; done: Promise<IngestResult> } {
  const stats: IngestStats = { rowsRead: 0, rowsLoaded: 0, rowsFailed: 0, bytesRead: 0, startedAt: Date.now() };
  const done = new Ingestion(spec, sink, hooks, stats).run();
  return { stats, done };
}

class Ingestion {
  private readonly log: (level: LogLevel, message: string) => void;
  private readonly stages: StageReporter;
  private readonly badRows: BadRowLog;
  private table = '';
  private sampleLimit = MAX_SAMPLE_ROWS;
  private sample: SampleRow[] = [];
  private target: TargetColumn[] | null = null;
  private created = false;
  private json: JsonMapper | null = null;
  private readonly warnedIgnored = new Set<string>();
  private batches!: BatchAssembler;
  private loader: BatchLoader | undefined;
  private totalBytes: number | null = 0;
  private bytesParsed = 0;
  private inputDone = false;
  private transformed = 0;
  private transformFailed = 0;
  private loadFailed = 0;
  private lastHeaderInput: InputState | null = null;

  constructor(
    private readonly spec: IngestSpec,
    private readonly sink: LoadSink,
    private readonly hooks: IngestHooks,
    private readonly stats: IngestStats,
  ) {
    this.log = (level, message) => safeCall(hooks.onLog, level, message);
    this.stages = new StageReporter(hooks.onStage);
    this.badRows = new BadRowLog(this.log);
  }

  async run(): Promise<IngestResult> {
    try {
      this.validateSpec();
      this.checkStop();
      const inputs = await resolveSource(this.spec.source, this.log, this.spec);
      for (const input of inputs) this.totalBytes = input.size === null || this.totalBytes === null ? null : this.totalBytes + input.size;
      this.stages.update('extract', { status: 'RUNNING', ...stageCounts(this.counters()).extract });
      for (const input of inputs) await this.readInput(input);
      // From here on the row count is known; only writes are still to come.
      this.inputDone = true;
      // A header-only CSV still defines a table.
      if (!this.target && this.lastHeaderInput) await this.setup();
      await this.loader!.drain();
      this.checkStop();
      if (this.tooManyFailed()) throw this.tooManyBadRows();
      // Only now do the table and its rows become visible (with a transactional sink).
      await this.sink.commit?.();
      return this.finish();
    } catch (err) {
      const e = this.hooks.signal.aborted ? cancelled() : err instanceof IngestError ? err : fromDbError(err, 'ingest');
      await this.loader?.settle(ABORT_GRACE_MS);
      await this.sink.rollback?.();
      this.stages.finish('FAILED', e.message);
      this.log(e.kind === 'CANCELLED' ? 'WARN' : 'ERROR', `ingest failed (${e.kind}): ${e.message}`);
      throw e;
    }
  }

  private validateSpec(): void {
    const { spec } = this;
    this.table = quoteDestination(spec.destination?.schema, spec.destination?.table);
    if (!Number.isInteger(spec.batchSize) || spec.batchSize < 1)
      throw permanent(`batchSize must be a positive integer, got ${String(spec.batchSize)}`);
    const r = spec.maxFailedRowRatio;
    if (typeof r !== 'number' || !(r >= 0 && r <= 1)) throw permanent(`maxFailedRowRatio must be between 0 and 1, got ${String(r)}`);
    if (!['AUTO', 'CSV', 'JSON', 'NDJSON', 'PARQUET'].includes(spec.format)) throw permanent(`unknown format ${String(spec.format)}`);
    if (spec.format === 'PARQUET') throw permanent(PARQUET_UNSUPPORTED);
    this.sampleLimit = Math.min(spec.batchSize, MAX_SAMPLE_ROWS);
    this.batches = new BatchAssembler(spec.batchSize);
    this.loader = new BatchLoader(this.sink, this.table, this.hooks.signal, {
      loaded: (rows) => {
        this.stats.rowsLoaded += rows;
        this.log('DEBUG', `loaded ${rows} rows into ${this.table} (${this.stats.rowsLoaded} so far)`);
        this.reportCounts();
      },
      bad: (label, line, reason) => this.markBad(label, line, reason, 'load'),
      checkStop: () => this.checkStop(),
    });
  }

  // Throws when the caller aborted or a background batch write failed.
  private checkStop(): void {
    if (this.hooks.signal.aborted) throw cancelled();
    if (this.loader?.failure) throw this.loader.failure;
  }

  private async readInput(source: SourceInput): Promise<void> {
    const hadData = await readInput(source, this.spec.format, {
      signal: this.hooks.signal,
      log: this.log,
      start: (format) => this.handlerFor(source.label, format),
      bytes: (n, size) => {
        if (n === 0 && source.size === null) this.totalBytes = size === null || this.totalBytes === null ? null : this.totalBytes + size;
        this.stats.bytesRead += n;
      },
      parsed: (n) => (this.bytesParsed += n),
      busy: () => this.batches.ready.length > 0 || (!this.target && this.sample.length >= this.sampleLimit),
      drain: () => this.drain(),
      checkStop: () => this.checkStop(),
      chunkDone: () => this.reportCounts(),
    });
    if (!hadData) this.log('WARN', `${source.label} is empty`);
    // Types come from one input; batches never span inputs (each has its own column mapping).
    if (!this.target && this.sample.length > 0) await this.setup();
    this.batches.close();
    await this.drain();
    this.reportCounts();
  }

  private handlerFor(label: string, format: ConcreteFormat): RecordHandler<never> {
    const input: InputState = {
      label,
      format,
      header: null,
      csv: null,
      onBad: (line, reason) => this.markBad(label, line, reason, 'transform'),
    };
    return {
      header: (names) => {
        input.header = names;
        this.lastHeaderInput = input;
      },
      row: (record, line) => {
        this.stats.rowsRead++;
        if (this.target) this.accept(input, record, line);
        else this.sample.push({ input, record, line });
      },
      bad: (line, reason) => {
        this.stats.rowsRead++;
        this.transformed++;
        input.onBad(line, reason);
      },
      // Decided once per input, as soon as the table is known; the parser asks after every quoted record.
      fastPath: () => {
        if (!this.target || !input.header) return null;
        if (input.fast === undefined) input.fast = this.csvFastPath(input);
        return input.fast;
      },
    };
  }

  // The CSV fast path works when every field feeds the same-position column and no column needs a
  // JSON parse: valid source lines are then valid COPY CSV lines as they are.
  private csvFastPath(input: InputState): CsvFastPath | null {
    const m = input.csv ?? this.mapCsv(input);
    if (!m.identity || m.kinds.includes(K_JSON)) return null;
    return {
      kinds: m.kinds,
      room: () => this.batches.room(input),
      run: (text, firstLine, count) => {
        this.stats.rowsRead += count;
        this.transformed += count;
        this.batches.current(input, m, input.label).addEncoded(text, firstLine, count);
        this.batches.added();
      },
    };
  }

  // Converts one record and appends it to the current batch (the transform stage, row by row).
  private accept(input: InputState, record: unknown, line: number): void {
    this.transformed++;
    let cols: CopyColumns;
    let row: (string | null)[] | null;
    if (input.format === 'CSV') {
      const m = input.csv ?? this.mapCsv(input);
      cols = m;
      row = convertCsvRow(record as string[], m, line, input.onBad);
    } else {
      cols = this.json!;
      row = convertJsonRow(record as Record<string, unknown>, this.json!, line, input.onBad);
    }
    if (row === null) return;
    // A JSON key seen for the first time may have widened the column list: that starts a new COPY.
    this.batches.current(input, cols, input.label).add(row, line);
    this.batches.added();
  }

  private mapCsv(input: InputState): CsvMapping {
    const m = (input.csv = mapCsvColumns(input.header ?? [], this.target!));
    for (const name of m.ignored) this.warnIgnored(name);
    if (m.names.length === 0) throw permanent(`none of the columns of ${input.label} exist in ${this.table}`);
    return m;
  }

  // Sets up the table once the sample is complete, then hands finished batches to the loader.
  private async drain(): Promise<void> {
    if (!this.target && this.sample.length >= this.sampleLimit) await this.setup();
    while (this.batches.ready.length > 0) {
      const batch = this.batches.ready.shift()!;
      await this.throttle(batch.rows);
      await this.loader!.submit(batch);
      this.checkStop();
    }
  }

  private rowsAdmitted = 0;

  // With maxRowsPerSecond, a batch waits until the rows before it fit the rate since the start.
  private async throttle(rows: number): Promise<void> {
    const rate = this.spec.maxRowsPerSecond;
    if (!rate) return;
    const due = this.stats.startedAt + (this.rowsAdmitted / rate) * 1000;
    this.rowsAdmitted += rows;
    const wait = due - Date.now();
    if (wait <= 0) return;
    const signal = this.hooks.signal;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, wait);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
    if (signal.aborted) throw cancelled();
  }

  // Infers columns from the sample (or a header-only CSV), creates or inspects the table, replays the sample.
  private async setup(): Promise<void> {
    const input = this.sample[0]?.input ?? this.lastHeaderInput!;
    const infer = this.spec.schemaInference !== false;
    // A parsed piece may overshoot the sample size; inference still looks at the first batch only.
    const records = this.sample.slice(0, this.sampleLimit).map((r) => r.record);
    const { names, kinds, keys } = inferColumns(input.format, input.header, records, infer);
    if (names.length === 0) throw permanent(`the first rows of ${input.label} have no columns`);
    const proposed = names.map((name, i) => ({ name, kind: kinds[i] }));
    const how = infer ? `inferred from ${records.length} rows` : 'all TEXT (schema inference off)';
    this.log('INFO', `columns ${how}: ${proposed.map((c) => `${c.name} ${sqlTypeOfKind(c.kind)}`).join(', ')}`);
    const { destination } = this.spec;
    const res = await ensureTable(this.sink, destination.schema, destination.table, proposed, this.log);
    this.target = res.columns;
    this.created = res.created;
    if (input.format !== 'CSV') {
      this.json = new JsonMapper(this.target, (key, column) => this.warnIgnored(key === column ? key : `${key} (${column})`));
      this.json.seed(keys);
    }
    const counts = stageCounts(this.counters());
    this.stages.update('transform', { status: 'RUNNING', ...counts.transform });
    this.stages.update('load', { status: 'RUNNING', ...counts.load });
    const sample = this.sample;
    this.sample = [];
    for (const r of sample) this.accept(r.input, r.record, r.line);
  }

  private warnIgnored(name: string): void {
    if (this.warnedIgnored.has(name)) return;
    this.warnedIgnored.add(name);
    this.log('WARN', `source column ${name} has no matching column in ${this.table}; its values are ignored`);
  }

  private markBad(label: string, line: number, reason: string, stage: 'transform' | 'load'): void {
    this.stats.rowsFailed++;
    if (stage === 'transform') this.transformFailed++;
    else this.loadFailed++;
    this.badRows.record(label, line, reason);
    const { rowsRead, rowsFailed } = this.stats;
    if (rowsRead >= EARLY_RATIO_MIN_ROWS && rowsFailed / rowsRead > this.spec.maxFailedRowRatio) throw this.tooManyBadRows();
  }

  private tooManyBadRows(): IngestError {
    const { rowsRead, rowsFailed } = this.stats;
    const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;
    return permanent(
      `too many bad rows: ${rowsFailed} of ${rowsRead} rows read (${pct(rowsFailed / rowsRead)}) failed, ` +
        `more than the allowed ${pct(this.spec.maxFailedRowRatio)}`,
    );
  }

  private counters(): IngestCounters {
    const { rowsRead, rowsLoaded } = this.stats;
    const { transformed, transformFailed, loadFailed, bytesParsed, totalBytes, inputDone } = this;
    return { rowsRead, transformed, transformFailed, rowsLoaded, loadFailed, bytesParsed, totalBytes, inputDone };
  }

  private reportCounts(): void {
    const counts = stageCounts(this.counters());
    this.stages.update('extract', counts.extract);
    // Transform and load start once the table is known (after the sample).
    if (this.target) {
      this.stages.update('transform', counts.transform);
      this.stages.update('load', counts.load);
    }
  }

  private tooManyFailed(): boolean {
    const { rowsRead, rowsFailed } = this.stats;
    return rowsRead > 0 && rowsFailed / rowsRead > this.spec.maxFailedRowRatio;
  }

  private finish(): IngestResult {
    const { stats } = this;
    if (this.tooManyFailed()) throw this.tooManyBadRows();
    const read = stats.rowsRead;
    const counts = stageCounts(this.counters());
    for (const stage of ['extract', 'transform', 'load'] as const) this.stages.update(stage, counts[stage]);
    this.stages.finish('COMPLETED');
    this.badRows.summary();
    const columns = (this.target ?? [])
      .filter((c) => this.created || this.batches.fed.has(c.name))
      .map((c) => ({ name: c.name, type: c.type }));
    if (!this.target) this.log('WARN', `the source held no data; ${this.table} was not created`);
    const secs = (Date.now() - stats.startedAt) / 1000;
    this.log(
      'INFO',
      `finished: ${stats.rowsLoaded} rows loaded into ${this.table}, ${stats.rowsFailed} failed, ${read} read, ` +
        `${stats.bytesRead} bytes in ${secs.toFixed(1)} s`,
    );
    return {
      rowsRead: read,
      rowsLoaded: stats.rowsLoaded,
      rowsFailed: stats.rowsFailed,
      bytesRead: stats.bytesRead,
      columns,
      table: this.table,
    };
  }
}
