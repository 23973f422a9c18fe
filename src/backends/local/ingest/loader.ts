/**
 * Writes finished batches to the sink, one in flight at a time, so that reading and converting the
 * next batch overlaps with writing this one while memory stays bounded.
 */
import { type CopyBatch, splitCsvRows } from './batch';
import { IngestError, cancelled, fromDbError, isRowLevelPgError } from './errors';
import type { LoadSink } from './sinks';

/** What the loader reports back to the ingest. */
export interface LoaderEvents {
  /** Rows written by one COPY. */
  loaded(rows: number): void;
  /** A row the database refused (found by bisecting a failed batch); may throw to stop the ingest. */
  bad(label: string, line: number, reason: string): void;
  /** Throws when the ingest must stop (abort); checked between the COPYs of a bisection. */
  checkStop(): void;
}

/**
 * Batch writer. A COPY refused for a row's data (SQLSTATE class 22/23) is bisected down to the bad
 * rows, which are reported and skipped; any other failure is kept and rethrown by the next
 * {@link submit} or {@link drain}, as IngestError (TRANSIENT or PERMANENT, see fromDbError).
 */
export class BatchLoader {
  private inflight: Promise<void> | null = null;
  private error: IngestError | null = null;

  constructor(
    private readonly sink: LoadSink,
    private readonly table: string,
    private readonly signal: AbortSignal,
    private readonly events: LoaderEvents,
  ) {}

  /** The failure of an earlier batch, if any (without waiting). */
  get failure(): IngestError | null {
    return this.error;
  }

  /** Waits for the batch in flight, then starts writing `batch` and returns without waiting for it. */
  async submit(batch: CopyBatch): Promise<void> {
    await this.drain();
    this.inflight = this.load(batch).then(
      () => undefined,
      // Kept, not thrown: nobody awaits this promise until the next submit/drain.
      (err: unknown) => {
        this.error = err instanceof IngestError ? err : fromDbError(err, `loading into ${this.table}`);
      },
    );
  }

  /**
   * Waits for the batch in flight; rethrows the failure of any batch. An abort ends the wait at once
   * with CANCELLED (a COPY stuck behind a lock must not hold the ingest); the write itself goes on
   * in the background and its outcome is ignored.
   */
  async drain(): Promise<void> {
    const p = this.inflight;
    if (p) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(cancelled());
        if (this.signal.aborted) return onAbort();
        this.signal.addEventListener('abort', onAbort, { once: true });
        void p.then(() => {
          this.signal.removeEventListener('abort', onAbort);
          resolve();
        });
      });
      this.inflight = null;
    }
    if (this.error) throw this.error;
  }

  /** Waits at most `ms` for the batch in flight, ignoring its outcome (used when giving up). */
  async settle(ms: number): Promise<void> {
    if (this.inflight) await Promise.race([this.inflight, new Promise((r) => setTimeout(r, ms).unref())]);
  }

  private copy(columns: string[], pieces: readonly Buffer[], rowCount: number): Promise<number> {
    return this.sink.copyCsv(this.table, columns, pieces, rowCount);
  }

  // One COPY per batch, or per part of it when the sink wants smaller ones: each is all-or-nothing.
  private async load(batch: CopyBatch): Promise<void> {
    const max = this.sink.maxCopyBytes;
    const parts = max ? batch.parts(max) : [{ pieces: batch.pieces, rows: batch.rows, firstRow: 0 }];
    let lines: number[] | undefined;
    for (const part of parts) {
      if (part !== parts[0]) this.events.checkStop();
      try {
        this.events.loaded(await this.copy(batch.columns, part.pieces, part.rows));
      } catch (err) {
        if (!isRowLevelPgError(err)) throw fromDbError(err, `loading into ${this.table}`);
        lines ??= batch.lines();
        await this.bisect(
          batch.columns,
          splitCsvRows(part.pieces),
          lines.slice(part.firstRow, part.firstRow + part.rows),
          batch.label,
          err,
        );
      }
    }
  }

  // Each COPY is all-or-nothing, so halving isolates the refused rows in O(bad * log(batch)) COPYs.
  private async bisect(columns: string[], text: string[], lines: number[], label: string, err: unknown): Promise<void> {
    this.events.checkStop();
    if (text.length === 1) {
      this.events.bad(label, lines[0], `rejected by the database: ${(err as Error).message}`);
      return;
    }
    const mid = text.length >>> 1;
    for (const [a, b] of [
      [0, mid],
      [mid, text.length],
    ]) {
      const part = text.slice(a, b);
      try {
        this.events.loaded(await this.copy(columns, [Buffer.from(`${part.join('\n')}\n`)], part.length));
      } catch (e) {
        if (!isRowLevelPgError(e)) throw fromDbError(e, `loading into ${this.table}`);
        await this.bisect(columns, part, lines.slice(a, b), label, e);
      }
    }
  }
}
