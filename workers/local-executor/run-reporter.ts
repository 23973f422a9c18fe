import { LogLevel, StageStatus, type RunView } from '../../src/domain';
import { coerceError } from '../../src/errors';
import type { StageUpdate } from '../../src/backends/local/ingest';
import type { Logger } from '../../src/logger';
import type { RunEventsService } from '../../src/runs/run-events.service';
import type { LogInput, MetricsPayload, RunEvent, StagePayload } from '../../src/runs/run-event';

/** How often what was reported is written, in ms. */
export const FLUSH_MS = 200;
/** Most log lines written in one event; a larger backlog goes out in several. */
const MAX_LINES_PER_EVENT = 1000;
/** Most log lines held while the database is slow; older ones are dropped (and counted). */
const MAX_BUFFERED_LINES = 20_000;

export interface RunReporterOptions {
  runEvents: Pick<RunEventsService, 'applyBatch'>;
  runId: string;
  attempt: number;
  /** The `producer` of every event, e.g. `local-executor@host:123`. */
  producer: string;
  logger: Logger;
  /** Told the run as it stands after every write (the executor watches for cancellation). */
  onRunView(view: RunView): void;
}

/**
 * Feeds one LOCAL run's progress into the run-event service without flooding it: everything
 * reported in the last {@link FLUSH_MS} goes out as one batch (one transaction), with at most one
 * batch in flight. Stage updates coalesce to the latest per stage (their counts are absolute, so
 * nothing is lost), log lines queue (bounded: the oldest are shed and counted when the database
 * cannot keep up), and a metrics sample replaces the one not yet written. A failed write is logged
 * and its stages and lines go out with the next one.
 */
export class RunReporter {
  private stages = new Map<string, StagePayload>();
  private lines: LogInput[] = [];
  private droppedLines = 0;
  private metricsSample: MetricsPayload | null = null;
  private inFlight: Promise<void> | null = null;
  private ended = false;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly opts: RunReporterOptions) {
    this.timer = setInterval(() => void this.flush(), FLUSH_MS);
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
      totalIsEstimate: u.totalIsEstimate,
      ...(u.message !== undefined ? { message: u.message } : {}),
    });
  }

  /** Buffers a log line (source `executor`). Never put secrets here. */
  log(level: LogLevel | `${LogLevel}`, message: string): void {
    this.lines.push({ level: level as LogLevel, message, source: 'executor', timestamp: new Date().toISOString() });
    if (this.lines.length > MAX_BUFFERED_LINES) {
      const excess = this.lines.length - MAX_BUFFERED_LINES;
      this.lines.splice(0, excess);
      this.droppedLines += excess;
    }
  }

  /** A metrics sample; written with the next batch (a newer one replaces it). */
  metrics(sample: MetricsPayload): void {
    if (!this.ended) this.metricsSample = sample;
  }

  /**
   * Ends reporting: stops the timer, waits for the write in flight, and returns what is still
   * unwritten (stage updates, log lines, then `finalMetrics`) as events, for the caller to apply in
   * one batch with the final status, so that subscribers see the final counts first.
   */
  async takePending(finalMetrics?: MetricsPayload): Promise<RunEvent[]> {
    this.ended = true;
    clearInterval(this.timer);
    await this.inFlight;
    const events = this.drain();
    if (finalMetrics) events.push(this.event('run.metrics', finalMetrics));
    return events;
  }

  /** Only the unwritten log lines (stages and metrics dropped), for a hand-back. */
  async takeLines(): Promise<LogInput[]> {
    this.ended = true;
    clearInterval(this.timer);
    await this.inFlight;
    this.stages.clear();
    this.metricsSample = null;
    return this.drainLines();
  }

  /** Stops the timer without writing (the run is no longer ours). */
  discard(): void {
    this.ended = true;
    clearInterval(this.timer);
    this.stages.clear();
    this.lines = [];
    this.metricsSample = null;
  }

  private drainLines(): LogInput[] {
    const lines = this.lines;
    this.lines = [];
    if (this.droppedLines) {
      lines.unshift({
        level: LogLevel.WARN,
        message: `${this.droppedLines} log lines dropped: the database could not keep up`,
        source: 'executor',
      });
      this.droppedLines = 0;
    }
    return lines;
  }

  /** Everything unwritten, as events, in the order subscribers should see it. */
  private drain(): RunEvent[] {
    const events = [...this.stages.values()].map((p) => this.event('stage.progress', p));
    this.stages.clear();
    const lines = this.drainLines();
    for (let i = 0; i < lines.length; i += MAX_LINES_PER_EVENT)
      events.push(this.event('run.log', { lines: lines.slice(i, i + MAX_LINES_PER_EVENT) }));
    if (this.metricsSample) events.push(this.event('run.metrics', this.metricsSample));
    this.metricsSample = null;
    return events;
  }

  private flush(): Promise<void> {
    if (this.inFlight || this.ended) return this.inFlight ?? Promise.resolve();
    const stages = new Map(this.stages);
    const events = this.drain();
    if (events.length === 0) return Promise.resolve();
    this.inFlight = this.opts.runEvents
      .applyBatch(events)
      .then(
        (results) => {
          const last = results.at(-1)?.run;
          if (last) this.opts.onRunView(last);
        },
        (err) => {
          const e = coerceError(err);
          this.opts.logger.warn(
            { err: e, runId: this.opts.runId, attempt: this.opts.attempt },
            `local executor: progress not written: ${e.message}`,
          );
          // Put back what no newer report replaced: it goes out with the next batch or at the end.
          for (const [name, p] of stages) if (!this.stages.has(name)) this.stages.set(name, p);
          const lines = events
            .filter((e): e is Extract<RunEvent, { type: 'run.log' }> => e.type === 'run.log')
            .flatMap((e) => e.payload.lines);
          this.lines.unshift(...lines);
        },
      )
      .finally(() => (this.inFlight = null));
    return this.inFlight;
  }

  /** An event of this run and attempt. */
  event(type: RunEvent['type'], payload: RunEvent['payload']): RunEvent {
    return { runId: this.opts.runId, attempt: this.opts.attempt, type, producer: this.opts.producer, payload } as RunEvent;
  }
}
