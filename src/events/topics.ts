import type { LogLineView, MetricsView, RunView, StageView } from '../domain';

/**
 * The event-bus contract: every topic and the JSON payload it carries. Payloads are plain data
 * (ISO-8601 strings, string ids) because they cross Redis between gateway replicas.
 *
 * Per-entity topics are routed by id (`<prefix><topic>:<id>` channels), so a replica receives only
 * what its own subscribers watch, never a firehose.
 */
export enum Topic {
  /**
   * Every change of one run (status, progress, error, stages, metrics); id = runId. Its `stateSeq`,
   * `metricsSeq` and stages' `eventSeq` are the `runEvents` cursors of what the batch changed.
   */
  RUN = 'run',
  /** Every change of any run of one job; id = jobId. */
  JOB_RUNS = 'job-runs',
  /** Status changes of every run (no id): live runs pages and dashboard stats. */
  RUN_STATUS = 'run-status',
  /** Status changes of the runs of one job; id = jobId. */
  JOB_RUN_STATUS = 'job-run-status',
  /** Status changes of the runs of one execution backend; id = LOCAL | SPARK | KAFKA (what executors watch). */
  BACKEND_RUN_STATUS = 'backend-run-status',
  /** Log lines of one run, in seq order; id = runId. */
  RUN_LOGS = 'run-logs',
  /** Metric samples of one run; id = runId. */
  RUN_METRICS = 'run-metrics',
  /** Stage changes of one run; id = runId. */
  RUN_STAGES = 'run-stages',
  /** Each Kafka consumer's state, about once a second (no id): `ingestStatus` of the whole group on every replica. */
  INGEST_REPORT = 'ingest-report',
}

/** What one replica's Kafka consumer says of itself. */
export interface IngestReportPayload {
  instanceId: string;
  connected: boolean;
  /** Why it is not consuming (e.g. the database is away), or null. */
  paused: string | null;
  /** Events it applied per second over the last few seconds. */
  appliedPerSecond: number;
  /** When it said so (ms since the epoch). */
  at: number;
}

export interface RunLogsPayload {
  runId: string;
  lines: LogLineView[];
  /**
   * The `runEvents` cursor of the first line; the others follow it one by one (the writer hands
   * them out so). Absent from a message of a publisher that predates cursors.
   */
  firstEventSeq?: number;
}

export interface TopicPayloads {
  [Topic.RUN]: RunView;
  [Topic.JOB_RUNS]: RunView;
  [Topic.RUN_STATUS]: RunView;
  [Topic.JOB_RUN_STATUS]: RunView;
  [Topic.BACKEND_RUN_STATUS]: RunView;
  [Topic.RUN_LOGS]: RunLogsPayload;
  [Topic.RUN_METRICS]: MetricsView;
  [Topic.RUN_STAGES]: StageView;
  [Topic.INGEST_REPORT]: IngestReportPayload;
}

/** A message of a merged subscription (EventBus.subscribeMerged): what came, and on which topic. */
export type TopicMessage<T extends Topic = Topic> = { [K in T]: { topic: K; payload: TopicPayloads[K] } }[T];

/** One message to publish after a commit. */
export type Publication = { [T in Topic]: { topic: T; id?: string; payload: TopicPayloads[T] } }[Topic];
