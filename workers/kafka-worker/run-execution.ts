import { ErrorKind, LogLevel, RunStatus } from '../../src/domain';
import type { RunErrorView } from '../../src/domain';
import { coerceError } from '../../src/errors';
import { ingest, IngestError, type IngestResult, type IngestStats, type LoadSink } from '../../src/backends/local/ingest';
import type { RunCommand, StatusPayload } from '../../src/events/run-event.schema';
import type { Logger } from '../../src/logger';
import { METRICS_INTERVAL_MS, ingestSpecFor } from '../local-executor/run-execution';
import { MetricsSampler } from '../local-executor/metrics-sampler';
import type { WorkerConfig } from './config';
import { KafkaRunReporter, type RunReporterOptions } from './run-reporter';
import type { WorkerSecrets } from './secrets';

/** A `start` command: what one execution runs. */
export type StartCommand = Extract<RunCommand, { type: 'start' }>;

export interface RunExecutionDeps {
  config: Pick<WorkerConfig, 'workerId' | 'heartbeatMs' | 'maxFailedRowRatio' | 'localSourceRoots'>;
  topics: RunReporterOptions['topics'];
  send: RunReporterOptions['send'];
  /** A sink on the destination database for this run's rows (one transaction per run). */
  makeSink: () => LoadSink;
  secrets: WorkerSecrets;
  logger: Logger;
}

/** Why an execution was aborted before its ingest ended by itself. */
type AbortReason = 'stop' | 'shutdown' | 'superseded';

/** The message of the FAILED TRANSIENT status a graceful stop reports, so jobwire retries the run. */
export const WORKER_STOPPING = 'worker stopping';

/**
 * One `start` command executing in this worker: runs the LOCAL ingestion engine into the
 * destination database and reports through Kafka (RUNNING at once, stage progress, metrics every
 * second, heartbeats, log lines, then SUCCEEDED / FAILED / CANCELLED). It stops when told: a `stop`
 * command (CANCELLED), the worker stopping (FAILED TRANSIENT {@link WORKER_STOPPING}: jobwire retries
 * it), a newer attempt of the same run (nothing more reported: jobwire ignores the old attempt).
 * An aborted ingest rolls its load back. `done` never rejects.
 */
export class KafkaRunExecution {
  readonly done: Promise<void>;
  readonly runId: string;
  readonly attempt: number;
  private readonly ac = new AbortController();
  private abortReason: AbortReason | null = null;
  private readonly reporter: KafkaRunReporter;
  private readonly log: Logger;

  constructor(
    private readonly command: StartCommand,
    private readonly deps: RunExecutionDeps,
  ) {
    this.runId = command.runId;
    this.attempt = command.attempt;
    this.log = deps.logger.child({ runId: command.runId, jobId: command.jobId, attempt: command.attempt });
    const params = command.job.source.params;
    this.reporter = new KafkaRunReporter({
      send: deps.send,
      topics: deps.topics,
      runId: command.runId,
      attempt: command.attempt,
      producer: deps.config.workerId,
      heartbeatMs: deps.config.heartbeatMs,
      secrets: deps.secrets.valuesFor(command.jobId, params),
      logger: this.log,
    });
    this.done = this.execute().catch((err) => {
      const e = coerceError(err);
      this.log.error({ err: e }, `kafka worker: run ${this.runId} ended abnormally: ${e.message}`);
    });
  }

  /** A `stop` command: abort; reported CANCELLED. */
  stop(): void {
    this.abort('stop');
  }

  /** The worker is stopping: abort; reported FAILED TRANSIENT, so jobwire retries the run. */
  shutdown(): void {
    this.abort('shutdown');
  }

  /** A newer attempt of this run arrived: abort and report nothing more. */
  supersede(): void {
    this.abort('superseded');
  }

  private abort(reason: AbortReason) {
    if (this.abortReason) return;
    this.abortReason = reason;
    this.log.info({ reason }, `kafka worker: aborting run ${this.runId} (${reason})`);
    this.ac.abort();
  }

  private async execute(): Promise<void> {
    const { command, deps, reporter } = this;
    const { config } = deps;
    const started = Date.now();
    reporter.status({ status: RunStatus.RUNNING, message: `running on worker ${config.workerId}` });
    reporter.log(LogLevel.INFO, `started by worker ${config.workerId} (attempt ${command.attempt})`);
    const { job } = command;
    // The command carries no secrets: the worker's secrets file supplies them. Inference is on unless the job says otherwise.
    const source = {
      ...job.source,
      params: deps.secrets.apply(command.jobId, job.source.params),
      schemaInference: job.source.schemaInference ?? true,
    };
    const spec = ingestSpecFor({ ...job, source }, config.maxFailedRowRatio, { allowedRoots: config.localSourceRoots });
    const sink = deps.makeSink();
    const { stats, done } = ingest(spec, sink, {
      signal: this.ac.signal,
      onStage: (u) => reporter.stage(u),
      onLog: (level, message) => reporter.log(level, message),
    });
    const sampler = new MetricsSampler();
    const metricsTimer = setInterval(() => reporter.metrics(sampler.sample(stats)), METRICS_INTERVAL_MS);

    let result: IngestResult | null = null;
    let failure: unknown = null;
    try {
      result = await done;
    } catch (err) {
      failure = err;
    } finally {
      clearInterval(metricsTimer);
      await sink.close?.().catch((err) => this.log.warn({ err: coerceError(err) }, 'kafka worker: closing the sink failed'));
    }
    if (this.abortReason === 'superseded') {
      reporter.discard();
      this.log.warn(`kafka worker: run ${this.runId} attempt ${this.attempt} superseded by a newer attempt; dropped`);
      return;
    }
    const outcome = this.outcome(result, failure, stats, started);
    reporter.log(outcome.level, outcome.summary);
    const sent = await reporter.finish(outcome.status, sampler.sample(stats));
    this.log.info({ status: outcome.status.status, produced: sent }, `kafka worker: run ${this.runId} ${outcome.status.status}`);
  }

  private outcome(result: IngestResult | null, failure: unknown, stats: IngestStats, started: number) {
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    const counts = `${stats.rowsLoaded} rows loaded, ${stats.rowsFailed} failed, ${stats.rowsRead} read, ${stats.bytesRead} bytes`;
    if (result) {
      const status: StatusPayload = { status: RunStatus.SUCCEEDED, message: `loaded ${result.rowsLoaded} rows into ${result.table}` };
      return { status, level: LogLevel.INFO, summary: `succeeded in ${secs} s: ${counts}` };
    }
    if (this.abortReason === 'stop') {
      const status: StatusPayload = { status: RunStatus.CANCELLED, message: 'stopped on request' };
      return { status, level: LogLevel.WARN, summary: `cancelled after ${secs} s (load rolled back): ${counts}` };
    }
    let error: RunErrorView;
    if (this.abortReason === 'shutdown') {
      error = {
        message: WORKER_STOPPING,
        kind: ErrorKind.TRANSIENT,
        details: `worker ${this.deps.config.workerId} stopped after ${secs} s`,
      };
    } else if (failure instanceof IngestError && failure.kind !== 'CANCELLED') {
      error = { message: failure.message, kind: failure.kind as ErrorKind, details: failure.details ?? null };
    } else {
      // Not the engine's own error (a bug, a sink that broke): retrying may help.
      error = { message: coerceError(failure).message, kind: ErrorKind.TRANSIENT, details: null };
    }
    const status: StatusPayload = { status: RunStatus.FAILED, message: error.message, error };
    return { status, level: LogLevel.ERROR, summary: `failed (${error.kind}) after ${secs} s: ${error.message}; ${counts}` };
  }
}
