import type { Config } from '../../src/config';
import { ErrorKind, LogLevel, RunStatus, isTerminal } from '../../src/domain';
import type { Destination, ProcessingConfig, RunErrorView, RunView, SourceConfig } from '../../src/domain';
import { coerceError } from '../../src/errors';
import { ingest, IngestError, type IngestResult, type IngestSpec, type IngestStats, type LoadSink } from '../../src/backends/local/ingest';
import type { Logger } from '../../src/logger';
import { checkLease, type LeaseCheck } from '../../src/runs/run-leases';
import type { ApplyResult, RunEventsService } from '../../src/runs/run-events.service';
import type { RunEvent, StatusPayload } from '../../src/runs/run-event';
import { MetricsSampler } from './metrics-sampler';
import { RunReporter } from './run-reporter';

/** What the executor needs of a job to run it (`source.params` unmasked: never log it). */
export interface JobSpec {
  source: SourceConfig;
  processing: ProcessingConfig;
  destination: Destination;
}

export interface RunExecutionDeps {
  runEvents: RunEventsService;
  config: Pick<Config, 'localLeaseMs' | 'maxFailedRowRatio' | 'localSourceRoots'>;
  logger: Logger;
  instanceId: string;
  producer: string;
  makeSink: () => LoadSink;
}

/** A metrics sample is written this often while a run executes, in ms. */
export const METRICS_INTERVAL_MS = 1000;
/** The run's status is checked at least this often, so a stop request ends it within about a second. */
export const WATCH_INTERVAL_MS = 500;
/** Attempts at writing the final status before leaving the run to the stuck monitor. */
const FINAL_STATUS_TRIES = 4;

/** Why an execution was aborted before its ingest ended by itself. */
type AbortReason = 'cancel' | 'shutdown' | 'lost';

/** Builds the ingest spec from the job row. */
export function ingestSpecFor(job: JobSpec, maxFailedRowRatio: number, allowedRoots?: readonly string[]): IngestSpec {
  return {
    source: { type: job.source.type, params: job.source.params, filePattern: job.source.filePattern },
    format: job.processing.format,
    destination: { schema: job.destination.schema, table: job.destination.table },
    batchSize: job.processing.batchSize,
    maxFailedRowRatio,
    schemaInference: job.source.schemaInference,
    maxRowsPerSecond: job.processing.maxRowsPerSecond ?? null,
    allowedRoots: allowedRoots ?? null,
  };
}

/**
 * One claimed LOCAL run executing in this process: runs the ingest, reports stages, logs, metrics
 * and lease renewals through the run-event service, watches for a stop request, and applies the
 * final status. `done` never rejects.
 */
export class RunExecution {
  readonly done: Promise<void>;
  private readonly ac = new AbortController();
  private abortReason: AbortReason | null = null;
  private abortedAt: number | null = null;
  private finished = false;
  private cancelling = false;
  private readonly reporter: RunReporter;
  private readonly log: Logger;

  constructor(
    private readonly run: RunView,
    private readonly job: JobSpec,
    private readonly deps: RunExecutionDeps,
  ) {
    this.log = deps.logger.child({ runId: run.id, jobId: run.jobId, attempt: run.attempt });
    this.reporter = new RunReporter({
      runEvents: deps.runEvents,
      runId: run.id,
      attempt: run.attempt,
      producer: deps.producer,
      logger: deps.logger,
      onRunView: (view) => this.observe(view),
    });
    this.done = this.execute().catch((err) => {
      const e = coerceError(err);
      this.log.error({ err: e }, `local executor: run ${run.id} ended abnormally: ${e.message}`);
    });
  }

  /**
   * Looks at the run as someone else left it (a bus message, an apply result, a lease check) and
   * stops when asked to. Bus messages can arrive late: one of an earlier attempt, or older than the
   * claim (lower `version`), says nothing about this execution and is ignored.
   */
  observe(view: Pick<RunView, 'id' | 'attempt' | 'status'> & { version?: number }): void {
    if (view.id !== this.run.id || this.finished || view.attempt < this.run.attempt) return;
    if (view.attempt > this.run.attempt) return this.abort('lost');
    if (view.version !== undefined && view.version < this.run.version) return;
    if (view.status === RunStatus.CANCELLING || view.status === RunStatus.CANCELLED) this.abort('cancel');
    else if (isTerminal(view.status)) this.abort('lost');
  }

  /** The gateway is stopping: abort; the run ends FAILED (TRANSIENT) so that it is retried. */
  shutdown(): void {
    this.abort('shutdown');
  }

  private abort(reason: AbortReason) {
    if (reason === 'cancel') this.cancelling = true;
    if (this.abortReason || this.finished) return;
    this.abortReason = reason;
    this.abortedAt = Date.now();
    this.log.info({ reason }, `local executor: aborting run ${this.run.id} (${reason})`);
    this.ac.abort();
  }

  private async execute(): Promise<void> {
    const { config, instanceId } = this.deps;
    this.reporter.log(LogLevel.INFO, `claimed by ${instanceId} (attempt ${this.run.attempt} of ${this.run.maxAttempts})`);
    const started = Date.now();
    const sink = this.deps.makeSink();
    const { stats, done } = ingest(ingestSpecFor(this.job, config.maxFailedRowRatio, config.localSourceRoots), sink, {
      signal: this.ac.signal,
      onStage: (u) => this.reporter.stage(u),
      onLog: (level, message) => this.reporter.log(level, message),
    });
    const sampler = new MetricsSampler();
    const metricsTimer = setInterval(() => this.reporter.metrics(sampler.sample(stats)), METRICS_INTERVAL_MS);
    const stopWatching = this.watch();

    let result: IngestResult | null = null;
    let failure: unknown = null;
    try {
      result = await done;
    } catch (err) {
      failure = err;
    } finally {
      clearInterval(metricsTimer);
      await sink.close?.().catch((err) => this.log.warn({ err: coerceError(err) }, 'local executor: closing the sink failed'));
    }
    this.finished = true;
    this.log.debug(
      { abortedMsAgo: this.abortedAt ? Date.now() - this.abortedAt : null },
      `local executor: ingest of run ${this.run.id} ended`,
    );
    try {
      if (this.abortReason === 'lost') {
        this.reporter.discard();
        this.log.warn(`local executor: run ${this.run.id} attempt ${this.run.attempt} was taken over or ended elsewhere; dropped`);
        return;
      }
      const outcome = this.outcome(result, failure, stats, started);
      this.reporter.log(outcome.level, outcome.summary);
      const pending = await this.reporter.takePending(sampler.sample(stats));
      await this.applyFinal([...pending, this.reporter.event('run.status', outcome.status)]);
    } finally {
      // The lease is renewed until the final status is written, however long that takes.
      await stopWatching();
    }
  }

  /**
   * Checks the run every {@link WATCH_INTERVAL_MS} (a stop request, another gateway taking over)
   * and renews the lease every `localLeaseMs / 3`. Returns a function that stops it and waits for
   * a check in flight.
   */
  private watch(): () => Promise<void> {
    const renewEvery = Math.max(1, Math.floor(this.deps.config.localLeaseMs / 3));
    let lastRenewal = Date.now();
    let inFlight: Promise<void> | null = null;
    const check = async () => {
      const renew = Date.now() - lastRenewal >= renewEvery - WATCH_INTERVAL_MS / 2;
      try {
        const seen: LeaseCheck | null = await this.deps.runEvents.transact((tx) =>
          checkLease(tx.em, {
            runId: this.run.id,
            instanceId: this.deps.instanceId,
            renewMs: renew ? this.deps.config.localLeaseMs : undefined,
          }),
        );
        if (renew && seen?.owned) lastRenewal = Date.now();
        if (!seen) return this.abort('lost');
        this.observe({ id: this.run.id, attempt: seen.attempt, status: seen.status });
        if (!seen.owned && !this.finished) this.abort('lost');
      } catch (err) {
        const e = coerceError(err);
        this.log.warn({ err: e }, `local executor: lease check of run ${this.run.id} failed: ${e.message}`);
      }
    };
    const timer = setInterval(
      () => {
        inFlight ??= check().finally(() => (inFlight = null));
      },
      Math.min(WATCH_INTERVAL_MS, renewEvery),
    );
    return async () => {
      clearInterval(timer);
      await inFlight;
    };
  }

  private outcome(result: IngestResult | null, failure: unknown, stats: IngestStats, started: number) {
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    const counts = `${stats.rowsLoaded} rows loaded, ${stats.rowsFailed} failed, ${stats.rowsRead} read, ${stats.bytesRead} bytes`;
    if (result) {
      const status: StatusPayload = { status: RunStatus.SUCCEEDED, message: `loaded ${result.rowsLoaded} rows into ${result.table}` };
      return {
        status,
        level: LogLevel.INFO,
        summary: `succeeded in ${secs} s: ${result.rowsLoaded} rows loaded into ${result.table}, ${result.rowsFailed} failed, ${result.rowsRead} read, ${result.bytesRead} bytes`,
      };
    }
    if (this.cancelling || this.abortReason === 'cancel') {
      return {
        status: { status: RunStatus.CANCELLED, message: 'stopped on request' },
        level: LogLevel.WARN,
        summary: `cancelled after ${secs} s: ${counts}`,
      };
    }
    let error: RunErrorView;
    if (this.abortReason === 'shutdown') {
      error = {
        message: 'gateway shutting down',
        kind: ErrorKind.TRANSIENT,
        details: `${this.deps.instanceId} stopped while the run executed`,
      };
    } else if (failure instanceof IngestError && failure.kind !== 'CANCELLED') {
      error = { message: failure.message, kind: failure.kind as ErrorKind, details: failure.details ?? null };
    } else {
      error = { message: coerceError(failure).message, kind: ErrorKind.TRANSIENT, details: null };
    }
    const status: StatusPayload = { status: RunStatus.FAILED, message: error.message, error };
    return { status, level: LogLevel.ERROR, summary: `failed (${error.kind}) after ${secs} s: ${error.message}; ${counts}` };
  }

  /**
   * Applies the last progress and the final status in one transaction (subscribers get them in
   * that order after the commit), trying a few times before leaving the run to the stuck monitor.
   */
  private async applyFinal(events: RunEvent[]): Promise<void> {
    const status = (events.at(-1)!.payload as StatusPayload).status;
    for (let i = 1; ; i++) {
      try {
        const r = await this.deps.runEvents.transact(async (tx) => {
          let last!: ApplyResult;
          for (const e of events) last = await tx.apply(e);
          return last;
        });
        this.log.info({ status, outcome: r.outcome, reason: r.reason }, `local executor: run ${this.run.id} ${status}`);
        return;
      } catch (err) {
        const e = coerceError(err);
        if (i >= FINAL_STATUS_TRIES) {
          // The lease runs out; the stuck monitor then fails the run TRANSIENT and it is retried.
          this.log.error({ err: e }, `local executor: final status of run ${this.run.id} not written: ${e.message}`);
          return;
        }
        this.log.warn({ err: e, try: i }, `local executor: writing the final status of run ${this.run.id} failed: ${e.message}`);
        await new Promise((r) => setTimeout(r, 250 * 2 ** i));
      }
    }
  }
}
