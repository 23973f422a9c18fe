import { LogLevel, StageStatus, type RunView } from '../../src/domain';
import { coerceError } from '../../src/errors';
import type { StageUpdate } from '../../src/backends/local/ingest';
import type { Logger } from '../../src/logger';
import type { RunEventsService } from '../../src/runs/run-events.service';
import type { LogInput, MetricsPayload, RunEvent, StagePayload } from '../../src/runs/run-event';

/** How often buffered log lines are written, in ms. */
export const LOG_FLUSH_MS = 200;
/** Most log lines written in one event; a larger backlog goes out in several. */
const MAX_LINES_PER_EVENT = 1000;
/** Most log lines held while the database is slow; older ones are dropped (and counted). */
const MAX_BUFFERED_LINES = 20_000;

export interface RunReporterOptions {
  runEvents: RunEventsService;
  runId: string;
  attempt: number;
  /** The `producer` of every event, e.g. `local-executor@host:123`. */
  producer: string;
  logger: Logger;
  /** Told the run as it stands after every applied report (the executor watches for cancellation). */
  onRunView(view: RunView): void;
}

/**
 * Feeds one LOCAL run's progress into the run-event service without flooding it: at most one apply
 * in flight per kind (stages, logs, metrics); stage updates coalesce to the latest per stage (their
 * counts are absolute, so nothing is lost); log lines go out in batches every {@link LOG_FLUSH_MS};
 * a metrics sample is dropped when the previous one is still being written.
 * A failed write is logged and, for stages and logs, retried with the next write or handed back by
 * {@link takePending}.
 */
export class RunReporter {
  private readonly stages = new Map<string, StagePayload>();
  private stagesInFlight: Promise<void> | null = null;
  private lines: LogInput[] = [];
  private droppedLines = 0;
  private logsInFlight: Promise<void> | null = null;
  private metricsInFlight: Promise<void> | null = null;
  private ended = false;
  private readonly logTimer: NodeJS.Timeout;

  constructor(private readonly opts: RunReporterOptions) {
    this.logTimer = setInterval(() => void this.writeLogs(), LOG_FLUSH_MS);
  }

  /** Records a stage update of the ingest; written soon, superseding any unwritten one of that stage. */
  stage(u: StageUpdate): void {
    if (this.ended) return;
    this.stages.set(u.stage, {
      stage: u.stage,
      status: u.status as StageStatus,
      totalItems: u.totalItems,
      completedItems: u.completedItems,
      failedItems: u.failedItems,
      ...(u.message !== undefined ? { message: u.message } : {}),
    });
    void this.writeStages();
  }

  /** Buffers a log line (source `executor`); written within {@link LOG_FLUSH_MS}. Never put secrets here. */
  log(level: LogLevel | `${LogLevel}`, message: string): void {
    this.lines.push({ level: level as LogLevel, message, source: 'executor', timestamp: new Date().toISOString() });
    if (this.lines.length > MAX_BUFFERED_LINES) {
      const excess = this.lines.length - MAX_BUFFERED_LINES;
      this.lines.splice(0, excess);
      this.droppedLines += excess;
    }
  }

  /** Writes a metrics sample unless the previous one is still being written (then this one is dropped). */
  metrics(sample: MetricsPayload): void {
    if (this.metricsInFlight) return;
    this.metricsInFlight = this.send('run.metrics', sample).finally(() => (this.metricsInFlight = null));
  }

  /**
   * Ends reporting: stops the log timer, waits for the writes in flight, and returns what is still
   * unwritten (stage updates, log lines, then `finalMetrics`) as events, for the caller to apply in
   * one transaction with the final status, so that subscribers see the final counts first.
   */
  async takePending(finalMetrics?: MetricsPayload): Promise<RunEvent[]> {
    this.ended = true;
    clearInterval(this.logTimer);
    await Promise.all([this.stagesInFlight, this.logsInFlight, this.metricsInFlight]);
    const events = [...this.stages.values()].map((p) => this.event('stage.progress', p));
    this.stages.clear();
    if (this.droppedLines) {
      this.lines.unshift({
        level: LogLevel.WARN,
        message: `${this.droppedLines} log lines dropped: the database could not keep up`,
        source: 'executor',
      });
      this.droppedLines = 0;
    }
    for (let i = 0; i < this.lines.length; i += MAX_LINES_PER_EVENT) {
      events.push(this.event('run.log', { lines: this.lines.slice(i, i + MAX_LINES_PER_EVENT) }));
    }
    this.lines = [];
    if (finalMetrics) events.push(this.event('run.metrics', finalMetrics));
    return events;
  }

  /** Stops the log timer without writing (the run is no longer ours). */
  discard(): void {
    this.ended = true;
    clearInterval(this.logTimer);
    this.stages.clear();
    this.lines = [];
  }

  private writeStages(): Promise<void> {
    if (this.stagesInFlight) return this.stagesInFlight;
    if (this.stages.size === 0) return Promise.resolve();
    const batch = [...this.stages.values()];
    this.stages.clear();
    this.stagesInFlight = this.opts.runEvents
      .transact(async (tx) => {
        let last: RunView | null = null;
        for (const payload of batch) last = (await tx.apply(this.event('stage.progress', payload))).run;
        return last;
      })
      .then(
        (view) => {
          this.stagesInFlight = null;
          if (view) this.opts.onRunView(view);
          // Updates that arrived meanwhile go out now, not with the next update (which may not come).
          if (!this.ended && this.stages.size > 0) void this.writeStages();
        },
        (err) => {
          this.stagesInFlight = null;
          this.warn(err, 'stage progress not written');
          // Put back what no newer update replaced: it goes out with the next update or at the end.
          for (const p of batch) if (!this.stages.has(p.stage)) this.stages.set(p.stage, p);
        },
      );
    return this.stagesInFlight;
  }

  private writeLogs(): Promise<void> {
    if (this.logsInFlight) return this.logsInFlight;
    if (this.lines.length === 0 && this.droppedLines === 0) return Promise.resolve();
    const batch = this.lines.splice(0, MAX_LINES_PER_EVENT);
    const dropped = this.droppedLines;
    this.droppedLines = 0;
    const lines = dropped
      ? [{ level: LogLevel.WARN, message: `${dropped} log lines dropped: the database could not keep up`, source: 'executor' }, ...batch]
      : batch;
    const write = this.send('run.log', { lines }, () => {
      this.lines.unshift(...batch);
      this.droppedLines += dropped;
    }).finally(() => (this.logsInFlight = null));
    this.logsInFlight = write;
    return write;
  }

  private async send<T extends 'run.metrics' | 'run.log'>(
    type: T,
    payload: Extract<RunEvent, { type: T }>['payload'],
    onError?: () => void,
  ): Promise<void> {
    try {
      const result = await this.opts.runEvents.apply(this.event(type, payload));
      this.opts.onRunView(result.run);
    } catch (err) {
      this.warn(err, `${type} not written`);
      onError?.();
    }
  }

  /** An event of this run and attempt. */
  event(type: RunEvent['type'], payload: RunEvent['payload']): RunEvent {
    return { runId: this.opts.runId, attempt: this.opts.attempt, type, producer: this.opts.producer, payload } as RunEvent;
  }

  private warn(err: unknown, what: string) {
    const e = coerceError(err);
    this.opts.logger.warn({ err: e, runId: this.opts.runId, attempt: this.opts.attempt }, `local executor: ${what}: ${e.message}`);
  }
}
