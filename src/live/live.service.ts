import type { JobsApi, JobStatsView, RunsApi } from '../api';
import type { ExecutionBackend, MetricsView, RunView, StageView } from '../domain';
import type { BusSubscription, EventBus } from '../events/bus';
import { Topic } from '../events/topics';
import type { Logger } from '../logger';
import { runLogsStream, type LogChunkView, type LogStreamArgs, type LogStreamOptions } from './log-stream';
import { runEventsStream, type RunEventView, type RunEventsArgs, type RunEventsOptions } from './run-events-stream';
import { runMetricsStream, runUpdatedStream, runsChangedStream, stageProgressStream } from './run-streams';
import { StatsFeed } from './stats-feed';
import { IngestFeed } from './ingest-feed';
import type { IngestStatusView } from '../kafka/ingest-status';
import { unavailable } from '../errors';
import { jobStatsStream } from './stats-stream';
import type { LiveStream } from './streams';
import type { RunFilter } from '../jobs/job-input';

export type { LogChunkView, LogStreamArgs, LogStreamOptions } from './log-stream';
export type { LiveStream } from './streams';
export type { RunEventView, RunEventsArgs, RunEventsOptions } from './run-events-stream';

/** A live feed: iterate it; `close()` ends it. */
export type LiveSubscription<T> = BusSubscription<T>;

export interface LiveServiceDeps {
  jobs: JobsApi;
  runs: RunsApi;
  bus: EventBus;
  logger: Logger;
  /** The Kafka consumer group's status, when Kafka is configured. */
  ingest?: { snapshot(): Promise<IngestStatusView> };
  /** How often `ingestStatusUpdated` looks for changes (default 2000 ms). */
  ingestIntervalMs?: number;
}

/**
 * The live streams of the core, what GraphQL subscriptions and executors watch. Every stream
 * subscribes to the bus first (resolving once the channel is really subscribed), then reads its
 * snapshot from the services, then streams, dropping what the snapshot already covered; a client
 * that subscribes late or reconnects misses nothing. One instance per process: it owns the feeds
 * shared by every subscriber (the stats feed computes once per burst of changes, not once per client).
 */
export class LiveService {
  private readonly stats: StatsFeed;
  private readonly ingest: IngestFeed | null;

  constructor(private readonly deps: LiveServiceDeps) {
    this.stats = new StatsFeed({ runs: deps.runs, bus: deps.bus, logger: deps.logger.child({ component: 'stats-feed' }) });
    const source = deps.ingest;
    this.ingest = source
      ? new IngestFeed({ snapshot: () => source.snapshot(), logger: deps.logger, intervalMs: deps.ingestIntervalMs })
      : null;
  }

  /** `runUpdated`: one run (`runId`) or every run of one job (`jobId`), current state first. */
  runUpdated(args: { runId?: string | null; jobId?: string | null }): Promise<LiveStream<RunView>> {
    return runUpdatedStream(this.deps, args);
  }

  /** `runsChanged`: status changes of the runs matching `filter` (no snapshot). */
  runsChanged(filter: RunFilter | null | undefined): Promise<LiveStream<RunView>> {
    return runsChangedStream(this.deps, filter);
  }

  /** `runMetrics`: the latest sample, then live ones. */
  runMetrics(runId: string): Promise<LiveStream<MetricsView>> {
    return runMetricsStream(this.deps, runId);
  }

  /** `stageProgress`: every stage as it stands, then live stage changes. */
  stageProgress(runId: string): Promise<LiveStream<StageView>> {
    return stageProgressStream(this.deps, runId);
  }

  /** `runLogs`: stored lines after `after` (replay), then live ones; no gap, no duplicate. */
  runLogs(args: LogStreamArgs, options?: LogStreamOptions): Promise<AsyncGenerator<LogChunkView>> {
    return runLogsStream(this.deps, args, options);
  }

  /** `runEvents`: one run's state, stages, metrics and log lines in one cursor order, stored first (after `after`), then live. */
  runEvents(args: RunEventsArgs, options?: RunEventsOptions): Promise<AsyncGenerator<RunEventView>> {
    return runEventsStream(this.deps, args, options);
  }

  /** `jobStatsUpdated`: the current stats, then a recomputation after each burst of status changes. */
  jobStats(): Promise<AsyncGenerator<JobStatsView>> {
    return jobStatsStream({ runs: this.deps.runs, feed: this.stats });
  }

  /** `ingestStatusUpdated`: the Kafka consumer group's status now, then each change (at most every 2 s). UNAVAILABLE without Kafka. */
  ingestStatus(): Promise<AsyncGenerator<IngestStatusView>> {
    if (!this.ingest) return Promise.reject(unavailable('KAFKA_BROKERS is not set: this gateway has no Kafka consumer'));
    return this.ingest.stream();
  }

  /**
   * Status changes of the runs of one backend, as they commit (no snapshot): what an executor
   * watches for new work and for stop requests. Resolves once subscribed.
   */
  backendStatus(kind: ExecutionBackend): Promise<LiveSubscription<RunView>> {
    return this.deps.bus.subscribe(Topic.BACKEND_RUN_STATUS, kind);
  }

  /** Ends the shared feeds. Idempotent. */
  close(): Promise<void> {
    this.ingest?.close();
    return this.stats.close();
  }
}
