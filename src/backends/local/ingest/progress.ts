/** Progress reporting: throttled stage updates and capped bad-row logging. */
import type { IngestHooks, LogLevel, StageName, StageState, StageUpdate } from './types';

/** Minimum interval between two count-only updates of one stage. */
export const STAGE_THROTTLE_MS = 250;
/** Bad rows logged one by one before switching to counting only. */
export const BAD_ROW_LOG_CAP = 100;

const STAGES: StageName[] = ['extract', 'transform', 'load'];

/** Calls a user callback, swallowing its exceptions: reporting must never break loading. */
export function safeCall<A extends unknown[]>(fn: ((...args: A) => void) | undefined, ...args: A): void {
  try {
    fn?.(...args);
  } catch {
    // Deliberately ignored, see above.
  }
}

/**
 * Holds the three stages' states and forwards them to `onStage`: status changes immediately,
 * count changes at most every {@link STAGE_THROTTLE_MS} per stage (a timer flushes the last pending
 * counts), and {@link finish} always emits every stage's final state.
 */
export class StageReporter {
  private readonly state = new Map<StageName, StageUpdate>();
  private readonly lastEmit = new Map<StageName, number>();
  private readonly dirty = new Set<StageName>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly onStage: IngestHooks['onStage']) {
    for (const stage of STAGES) {
      this.state.set(stage, { stage, status: 'PENDING', totalItems: 0, completedItems: 0, failedItems: 0, totalIsEstimate: true });
    }
  }

  /** Current state of a stage (a live object: do not keep it). */
  get(stage: StageName): Readonly<StageUpdate> {
    return this.state.get(stage)!;
  }

  /** Applies changes to a stage and reports them (throttled unless the status changes). */
  update(stage: StageName, patch: Partial<Omit<StageUpdate, 'stage'>>): void {
    const s = this.state.get(stage)!;
    const statusChanged = patch.status !== undefined && patch.status !== s.status;
    Object.assign(s, patch);
    if (statusChanged || Date.now() - (this.lastEmit.get(stage) ?? 0) >= STAGE_THROTTLE_MS) {
      this.emit(stage);
    } else {
      this.dirty.add(stage);
      this.timer ??= setInterval(() => this.flushDirty(), STAGE_THROTTLE_MS).unref();
    }
  }

  /**
   * Ends reporting: RUNNING stages (and, on success, PENDING ones) take `outcome`; on failure
   * PENDING stages become SKIPPED. Emits all three stages.
   */
  finish(outcome: 'COMPLETED' | 'FAILED', message?: string): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.dirty.clear();
    for (const stage of STAGES) {
      const s = this.state.get(stage)!;
      let status: StageState = s.status;
      if (s.status === 'RUNNING' || (s.status === 'PENDING' && outcome === 'COMPLETED')) status = outcome;
      else if (s.status === 'PENDING') status = 'SKIPPED';
      s.status = status;
      if (message !== undefined && status === 'FAILED') s.message = message;
      this.emit(stage);
    }
  }

  private flushDirty(): void {
    for (const stage of this.dirty) this.emit(stage);
    if (this.dirty.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private emit(stage: StageName): void {
    this.dirty.delete(stage);
    this.lastEmit.set(stage, Date.now());
    safeCall(this.onStage, { ...this.state.get(stage)! });
  }
}

/** The counters of an ingest the stage totals derive from (see {@link stageCounts}). */
export interface IngestCounters {
  /** Records read from the inputs, good and bad. */
  rowsRead: number;
  /** Records through conversion, good and bad (`transformFailed` of them bad). */
  transformed: number;
  transformFailed: number;
  /** Rows written, and rows the database refused. */
  rowsLoaded: number;
  loadFailed: number;
  /** Bytes of input handed to the parsers so far. */
  bytesParsed: number;
  /** Sum of the inputs' sizes in bytes; null when any size is unknown (HTTP without Content-Length). */
  totalBytes: number | null;
  /** Every input was read to its end: `rowsRead` is the final row count. */
  inputDone: boolean;
}

/**
 * Total rows of an ingest. Exact once every input was read. Before, an estimate: the rows read so
 * far extrapolated by the share of bytes parsed (exact for rows of even length, corrected as reading
 * goes on), and never less than one more row than read, since the unread rest may hold rows: so
 * the rows read never reach the total while input remains, even when later rows are shorter or a
 * size is unknown.
 */
export function estimateTotalRows(c: IngestCounters): { total: number; isEstimate: boolean } {
  if (c.inputDone) return { total: c.rowsRead, isEstimate: false };
  const extrapolated = c.totalBytes !== null && c.bytesParsed > 0 ? Math.ceil((c.rowsRead * c.totalBytes) / c.bytesParsed) : 0;
  return { total: Math.max(extrapolated, c.rowsRead + 1), isEstimate: true };
}

/** Counts of one stage, as {@link StageUpdate} carries them. */
export type StageCounts = Pick<StageUpdate, 'totalItems' | 'completedItems' | 'failedItems' | 'totalIsEstimate'>;

/**
 * The counts of the three stages. Every row counts once per stage it reached: as completed or as
 * failed, never both. The load's total is the estimated total less the rows the transform refused,
 * so `load.completedItems / load.totalItems` is the share of the rows still to be written that
 * were written; no stage shows done while rows remain for it.
 */
export function stageCounts(c: IngestCounters): Record<StageName, StageCounts> {
  const { total, isEstimate } = estimateTotalRows(c);
  return {
    extract: { totalItems: total, completedItems: c.rowsRead, failedItems: 0, totalIsEstimate: isEstimate },
    transform: {
      totalItems: total,
      completedItems: c.transformed - c.transformFailed,
      failedItems: c.transformFailed,
      totalIsEstimate: isEstimate,
    },
    load: { totalItems: total - c.transformFailed, completedItems: c.rowsLoaded, failedItems: c.loadFailed, totalIsEstimate: isEstimate },
  };
}

/** Logs bad rows as WARN lines, the first {@link BAD_ROW_LOG_CAP} individually, then one notice. */
export class BadRowLog {
  private logged = 0;
  private suppressed = 0;

  constructor(
    private readonly log: (level: LogLevel, message: string) => void,
    private readonly cap = BAD_ROW_LOG_CAP,
  ) {}

  /** Records one bad row; `where` names the input (file path or URL). */
  record(where: string, line: number, reason: string): void {
    if (this.logged < this.cap) {
      this.logged++;
      this.log('WARN', `bad row at line ${line} of ${where}: ${reason}`);
    } else if (this.suppressed++ === 0) {
      this.log('WARN', `more than ${this.cap} bad rows: further bad rows are counted but not logged`);
    }
  }

  /** Logs how many bad rows went unlogged, if any. */
  summary(): void {
    if (this.suppressed > 0)
      this.log('WARN', `${this.logged + this.suppressed} bad rows in total, ${this.suppressed} not logged individually`);
  }
}
