/**
 * The domain vocabulary shared by the core, the persistence layer and the GraphQL edge.
 * Everything here is plain data: what crosses Redis and what resolvers return are these shapes
 * (dates as ISO-8601 strings, ids as strings), never ORM entities.
 */

export enum JobStatus {
  CREATED = 'CREATED',
  RUNNING = 'RUNNING',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}
export enum RunStatus {
  PENDING = 'PENDING',
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
  CANCELLING = 'CANCELLING',
  CANCELLED = 'CANCELLED',
}
export enum RunTrigger {
  MANUAL = 'MANUAL',
  SCHEDULE = 'SCHEDULE',
  RETRY = 'RETRY',
  API = 'API',
}
export enum StageStatus {
  PENDING = 'PENDING',
  RUNNING = 'RUNNING',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
  SKIPPED = 'SKIPPED',
}
export enum LogLevel {
  DEBUG = 'DEBUG',
  INFO = 'INFO',
  WARN = 'WARN',
  ERROR = 'ERROR',
}
/** What happens to a stalled run (RUNNING, counters not moving): only the flag, stop it, or fail it TRANSIENT so it retries. */
export enum StallAction {
  NONE = 'NONE',
  STOP = 'STOP',
  RETRY = 'RETRY',
}
/** A dead letter's fate: waiting, applied after all by a replay, or set aside by hand. */
export enum DeadLetterStatus {
  PENDING = 'PENDING',
  REPLAYED = 'REPLAYED',
  DISCARDED = 'DISCARDED',
}
export enum ErrorKind {
  TRANSIENT = 'TRANSIENT',
  PERMANENT = 'PERMANENT',
}
export enum ExecutionBackend {
  LOCAL = 'LOCAL',
  SPARK = 'SPARK',
  KAFKA = 'KAFKA',
}
export enum SourceType {
  LOCAL = 'LOCAL',
  HTTP = 'HTTP',
  POSTGRES = 'POSTGRES',
  KAFKA = 'KAFKA',
  S3 = 'S3',
  SFTP = 'SFTP',
}
export enum ProcessingMode {
  BATCH = 'BATCH',
  STREAMING = 'STREAMING',
}
export enum DataFormat {
  AUTO = 'AUTO',
  CSV = 'CSV',
  JSON = 'JSON',
  NDJSON = 'NDJSON',
  PARQUET = 'PARQUET',
}
export enum ClusterMode {
  SINGLE_NODE = 'SINGLE_NODE',
  MULTI_NODE = 'MULTI_NODE',
  SERVERLESS = 'SERVERLESS',
}
export enum InstanceType {
  STANDARD = 'STANDARD',
  MEMORY_OPTIMIZED = 'MEMORY_OPTIMIZED',
  COMPUTE_OPTIMIZED = 'COMPUTE_OPTIMIZED',
}

/** Log levels in increasing severity, for `minLevel` filters. */
export const LOG_LEVEL_RANK: Record<LogLevel, number> = { DEBUG: 0, INFO: 1, WARN: 2, ERROR: 3 };

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface SourceConfig {
  type: SourceType;
  params: JsonObject;
  filePattern: string | null;
  schemaInference: boolean;
}
export interface Destination {
  schema: string;
  table: string;
}
export interface ProcessingConfig {
  mode: ProcessingMode;
  format: DataFormat;
  batchSize: number;
  checkpointEnabled: boolean;
  watermarkSeconds: number | null;
  triggerIntervalSeconds: number | null;
  /** Upper bound on rows written per second (LOCAL executor), to spare a busy destination; null = no limit. */
  maxRowsPerSecond?: number | null;
  /** SPARK only: the user's own application instead of jobwire's built-in ingestion; null = the built-in one. */
  sparkApplication?: SparkApplication | null;
}
/** A Spark application of the user's: its jar (or file), main class and arguments. */
export interface SparkApplication {
  appResource: string;
  mainClass: string;
  args: string[];
}
export interface ComputeConfig {
  clusterMode: ClusterMode;
  instanceType: InstanceType;
  minWorkers: number;
  maxWorkers: number;
  autoscaling: boolean;
  photon: boolean;
  adaptiveQueryExecution: boolean;
  dynamicPartitionPruning: boolean;
  costBasedOptimizer: boolean;
  sparkConf: JsonObject | null;
}
export interface ScheduleConfig {
  cron: string;
  timezone: string;
  startAt: string | null;
  endAt: string | null;
  retryDelaySeconds: number;
  enabled: boolean;
}

export interface RunErrorView {
  message: string;
  kind: ErrorKind;
  details: string | null;
}
export interface RunAttemptView {
  attempt: number;
  status: RunStatus;
  startedAt: string | null;
  finishedAt: string | null;
  error: RunErrorView | null;
  /** Who started the attempt: a caller's subject, `scheduler` or `retry-policy`; absent on attempts recorded before this was. */
  triggeredBy?: string | null;
}
export interface StageView {
  runId: string;
  name: string;
  status: StageStatus;
  totalItems: number;
  completedItems: number;
  failedItems: number;
  progress: number;
  /** `totalItems` is an estimate that may still be corrected (progress never regresses when it is). */
  totalIsEstimate: boolean;
  message: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
  /** The `runEvents` cursor of this state of the stage (internal: not a GraphQL field). */
  eventSeq: number;
}
export interface MetricsView {
  runId: string;
  timestamp: string;
  recordsProcessed: number;
  recordsFailed: number;
  throughputRps: number;
  bytesProcessed: number;
  activeWorkers: number;
  cpuUtilization: number | null;
  memoryUtilization: number | null;
}
export interface LogLineView {
  /** Per-run, strictly increasing, as a decimal string (GraphQL `String`). */
  seq: string;
  runId: string;
  attempt: number;
  timestamp: string;
  level: LogLevel;
  message: string;
  source: string | null;
}
/** A run as clients see it: in queries, and in every subscription message. */
export interface RunView {
  id: string;
  jobId: string;
  number: number;
  attempt: number;
  maxAttempts: number;
  trigger: RunTrigger;
  status: RunStatus;
  backend: ExecutionBackend;
  externalId: string | null;
  engineState: string | null;
  lastProgressAt: string | null;
  /** Set while the run is stalled (RUNNING, no counter moved for the job's stall timeout); null otherwise. */
  stalledSince: string | null;
  progress: number;
  stages: StageView[];
  metrics: MetricsView | null;
  error: RunErrorView | null;
  attempts: RunAttemptView[];
  deadLettered: boolean;
  /** Who stopped it (stopRun's caller, `stall-policy`); null when nobody did. */
  stoppedBy: string | null;
  nextRetryAt: string | null;
  queuedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  createdAt: string;
  updatedAt: string;
  /** Grows with every applied change; subscribers use it to drop stale or repeated messages. */
  version: number;
  /** The `runEvents` cursor of this state of the run, and of `metrics` (0 without); internal, not GraphQL fields. */
  stateSeq: number;
  metricsSeq: number;
}
/** A job as clients see it; `source.params` has every secret replaced by `"***"`. */
export interface JobView {
  id: string;
  name: string;
  description: string | null;
  tags: string[];
  backend: ExecutionBackend;
  source: SourceConfig;
  destination: Destination;
  processing: ProcessingConfig;
  compute: ComputeConfig;
  schedule: (ScheduleConfig & { nextRunAt: string | null }) | null;
  maxAttempts: number;
  /** A RUNNING run whose counters do not move this long is stalled (the job's own, or STALL_THRESHOLD_MS). */
  stallTimeoutSeconds: number;
  onStall: StallAction;
  status: JobStatus;
  latestRunId: string | null;
  /** Subject of the caller that created it; null for jobs created before this was recorded. */
  createdBy: string | null;
  createdAt: string;
  updatedAt: string;
}

export const TERMINAL_RUN_STATUSES: readonly RunStatus[] = [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED];
export const ACTIVE_RUN_STATUSES: readonly RunStatus[] = [RunStatus.PENDING, RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.CANCELLING];
export const isTerminal = (s: RunStatus) => TERMINAL_RUN_STATUSES.includes(s);
