import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../../src/config';
import { ErrorKind, LogLevel, RunStatus, isTerminal } from '../../src/domain';
import type { RunErrorView, RunView } from '../../src/domain';
import { coerceError } from '../../src/errors';
import {
  ingest,
  IngestError,
  type IngestResult,
  type IngestSpec,
  type IngestStats,
  type LoadSink,
  type PgSinkOptions,
} from '../../src/backends/local/ingest';
import type { JobSpec, LocalQueueService } from '../../src/backends/local/local-queue.service';
import type { SourceAccess } from '../../src/backends/local/ingest/sources';
import type { Logger } from '../../src/logger';
import type { BatchResult, RunEventsService } from '../../src/runs/run-events.service';
import type { RunEvent, StatusPayload } from '../../src/runs/run-event';
import { MetricsSampler } from './metrics-sampler';
import { RunReporter } from './run-reporter';

export type { JobSpec };

export interface RunExecutionDeps {
  runEvents: Pick<RunEventsService, 'applyBatch'>;
  localQueue: Pick<LocalQueueService, 'handBack' | 'commitFence'>;
  config: Pick<Config, 'maxFailedRowRatio' | 'localLeaseMs'>;
  /** What sources may reach in this gateway (LOCAL_SOURCE_ROOTS, SOURCE_ALLOWED_NETWORKS). */
  access: SourceAccess;
  logger: Logger;
  instanceId: string;
  producer: string;
  /** A sink for the run's rows; one that honours `beforeCommit` commits only while this gateway holds the run's lease. */
  makeSink: (opts?: PgSinkOptions) => LoadSink;
}

/** A metrics sample is written this often while a run executes, in ms. */
export const METRICS_INTERVAL_MS = 1000;
/** Attempts at writing the final status, once the gateway is stopping, before leaving the run to the stuck monitor. */
const FINAL_STATUS_TRIES = 4;
/** Longest pause between two attempts at writing the final status while the database is away. */
const FINAL_STATUS_MAX_PAUSE_MS = 5000;

/** Why an execution was aborted before its ingest ended by itself. */
type AbortReason = 'cancel' | 'shutdown' | 'lost';

/** Builds the ingest spec from the job's definition; `access` confines what its source may reach (default: nothing confined). */
export function ingestSpecFor(job: JobSpec, maxFailedRowRatio: number, access: SourceAccess = {}): IngestSpec {
  return {
    source: { type: job.source.type, params: job.source.params, filePattern: job.source.filePattern },
    format: job.processing.format,
    destination: { schema: job.destination.schema, table: job.destination.table },
    batchSize: job.processing.batchSize,
    maxFailedRowRatio,
    schemaInference: job.source.schemaInference,
    maxRowsPerSecond: job.processing.maxRowsPerSecond ?? null,
    allowedRoots: access.allowedRoots ?? null,
    allowedNetworks: access.allowedNetworks ?? null,
  };
}

/**
 * One claimed LOCAL run executing in this process: runs the ingest, reports stages, logs and
 * metrics through the run-event service, stops when told (a stop request, the lease lost, the
 * gateway stopping), and applies the final status — or, when the gateway stops, hands the run back
 * to the queue without spending an attempt. The executor renews its lease. `done` never rejects.
 */
export class RunExecution {
  readonly done: Promise<void>;
  private readonly ac = new AbortController();
  private abortReason: AbortReason | null = null;
  private abortedAt: number | null = null;
  private finished = false;
  private cancelling = false;
  /** The gateway is stopping: the final status is tried a few times only. */
  private stopping = false;
  private readonly reporter: RunReporter;
  private readonly log: Logger;

  constructor(
    readonly run: RunView,
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
   * Looks at the run as someone else left it (a bus message, a write's result, a lease renewal)
   * and stops when asked to. Bus messages can arrive late: one of an earlier attempt, or older than
   * the claim (lower `version`), says nothing about this execution and is ignored.
   */
  observe(view: Pick<RunView, 'id' | 'attempt' | 'status'> & { version?: number }): void {
    if (view.id !== this.run.id || this.finished || view.attempt < this.run.attempt) return;
    if (view.attempt > this.run.attempt) return this.abort('lost');
    if (view.version !== undefined && view.version < this.run.version) return;
    if (view.status === RunStatus.CANCELLING || view.status === RunStatus.CANCELLED) this.abort('cancel');
    else if (isTerminal(view.status) || view.status === RunStatus.QUEUED) this.abort('lost');
  }

  /** The lease is no longer this gateway's (another took the run over, or it is gone). */
  leaseLost(): void {
    if (!this.finished) this.abort('lost');
  }

  /** The gateway is stopping: abort; the run goes back to the queue (same attempt) to run again, here or elsewhere. */
  shutdown(): void {
    this.stopping = true;
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
    // The fence: the load commits in one transaction with a check that this gateway still holds the run.
    const beforeCommit = this.deps.localQueue.commitFence(
      { runId: this.run.id, attempt: this.run.attempt, owner: instanceId, leaseMs: config.localLeaseMs },
      () => this.leaseLost(),
    );
    const sink = this.deps.makeSink({ beforeCommit });
    const { stats, done } = ingest(ingestSpecFor(this.job, config.maxFailedRowRatio, this.deps.access), sink, {
      signal: this.ac.signal,
      onStage: (u) => this.reporter.stage(u),
      onLog: (level, message) => this.reporter.log(level, message),
    });
    const sampler = new MetricsSampler();
    const metricsTimer = setInterval(() => this.reporter.metrics(sampler.sample(stats)), METRICS_INTERVAL_MS);

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
    if (this.abortReason === 'lost') {
      this.reporter.discard();
      this.log.warn(`local executor: run ${this.run.id} attempt ${this.run.attempt} was taken over or ended elsewhere; dropped`);
      return;
    }
    if (!result && !this.cancelling && this.abortReason === 'shutdown') return this.handBack(started);
    const outcome = this.outcome(result, failure, stats, started);
    this.reporter.log(outcome.level, outcome.summary);
    const pending = await this.reporter.takePending(sampler.sample(stats));
    await this.applyFinal([...pending, this.reporter.event('run.status', outcome.status)]);
  }

  /**
   * The gateway stops while the run executes (its load was rolled back): back to the queue, same
   * attempt, with its log lines kept. If that cannot be written the lease runs out and the stuck
   * monitor fails the attempt TRANSIENT, like a crash.
   */
  private async handBack(started: number) {
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    this.reporter.log(
      LogLevel.WARN,
      `gateway ${this.deps.instanceId} stopping after ${secs} s: handed back to the queue (attempt ${this.run.attempt} not spent)`,
    );
    const lines = await this.reporter.takeLines();
    try {
      const n = await this.deps.localQueue.handBack(
        this.deps.instanceId,
        [{ runId: this.run.id, attempt: this.run.attempt, lines }],
        'gateway stopping',
      );
      this.log.info({ handedBack: n === 1 }, `local executor: run ${this.run.id} handed back to the queue`);
    } catch (err) {
      const e = coerceError(err);
      this.log.error({ err: e }, `local executor: handing run ${this.run.id} back failed (${e.message}); the stuck monitor takes it`);
    }
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
    if (failure instanceof IngestError && failure.kind !== 'CANCELLED') {
      error = { message: failure.message, kind: failure.kind as ErrorKind, details: failure.details ?? null };
    } else {
      error = { message: coerceError(failure).message, kind: ErrorKind.TRANSIENT, details: null };
    }
    const status: StatusPayload = { status: RunStatus.FAILED, message: error.message, error };
    return { status, level: LogLevel.ERROR, summary: `failed (${error.kind}) after ${secs} s: ${error.message}; ${counts}` };
  }

  /**
   * Applies the last progress and the final status in one batch (subscribers get them in that
   * order after the commit). While the database is away it keeps trying, backing off up to
   * {@link FINAL_STATUS_MAX_PAUSE_MS}: the run stays in the executor, whose lease renewals resume
   * with the database, so the status lands as soon as PostgreSQL is back rather than a lease
   * expiry and a stuck-monitor pass later. Once the gateway is stopping it tries
   * {@link FINAL_STATUS_TRIES} times at most, then leaves the run to the stuck monitor (its lease
   * runs out, the attempt fails TRANSIENT and is retried).
   */
  private async applyFinal(events: RunEvent[]): Promise<void> {
    const status = (events.at(-1)!.payload as StatusPayload).status;
    for (let i = 1; ; i++) {
      try {
        const results: BatchResult[] = await this.deps.runEvents.applyBatch(events);
        const r = results.at(-1)!;
        this.log.info({ status, outcome: r.outcome, reason: r.reason, tries: i }, `local executor: run ${this.run.id} ${status}`);
        return;
      } catch (err) {
        const e = coerceError(err);
        if (this.stopping && i >= FINAL_STATUS_TRIES) {
          this.log.error({ err: e }, `local executor: final status of run ${this.run.id} not written: ${e.message}`);
          return;
        }
        const pause = Math.min(FINAL_STATUS_MAX_PAUSE_MS, 250 * 2 ** i);
        if (i <= FINAL_STATUS_TRIES || i % 10 === 0)
          this.log.warn(
            { err: e, try: i, nextTryInMs: pause },
            `local executor: writing the final status of run ${this.run.id} failed: ${e.message}; trying again`,
          );
        await sleep(pause);
      }
    }
  }
}
