/**
 * What the edges (resolvers, workers) may ask of the core. Implemented by JobsService
 * (src/jobs/jobs.service.ts), RunsService (src/runs/runs.service.ts) and the ingest API
 * (src/kafka/ingest-api.ts). Every method validates
 * its input and throws AppError (src/errors.ts): BAD_USER_INPUT naming the field, NOT_FOUND,
 * CONFLICT, UNAVAILABLE. Returned objects are plain views (src/domain.ts), secrets masked.
 */
import type { DeadLetterView } from './kafka/dead-letters.service';
import type { PreflightCheckView } from './backends/backend';
import type { CursorRange, SequencedLogLine } from './runs/run-event-queries';
import type { IngestStatusView } from './kafka/ingest-status';
import type {
  ComputeConfig,
  DeadLetterStatus,
  DataFormat,
  ExecutionBackend,
  JobView,
  LogLevel,
  LogLineView,
  MetricsView,
  RunStatus,
  RunTrigger,
  RunView,
  SourceType,
  StageView,
} from './domain';
import type {
  ComputeConfigInput,
  Connection,
  CreateJobInput,
  JobFilter,
  PageArgs,
  RunFilter,
  SourceConfigInput,
  UpdateJobInput,
} from './jobs/job-input';

export type { CursorRange, SequencedLogLine } from './runs/run-event-queries';

export interface ComputePresetView {
  name: string;
  description: string;
  compute: ComputeConfig;
}
export interface SourceTypeInfoView {
  type: SourceType;
  formats: DataFormat[];
  batch: boolean;
  streaming: boolean;
  /** The backends of this gateway that can execute this source type. */
  backends: ExecutionBackend[];
}
export interface ConnectionTestResultView {
  ok: boolean;
  message: string;
  latencyMs: number | null;
  sampleSchema: unknown;
}
export interface JobStatsView {
  runsByStatus: { status: RunStatus; count: number }[];
  successRate: number | null;
  running: number;
  deadLettered: number;
  /** Runs stalled now. */
  stalled: number;
  stuckRuns: RunView[];
}

export interface PreflightResultView {
  ok: boolean;
  checks: PreflightCheckView[];
}

export interface JobsApi {
  /** Same `idempotencyKey` within 24 h → the job the first call made (nothing created twice, also under concurrent calls). */
  /** `actor`: the caller's subject, recorded as `createdBy`. */
  create(input: CreateJobInput, opts?: { idempotencyKey?: string | null; actor?: string | null }): Promise<JobView>;
  update(id: string, input: UpdateJobInput): Promise<JobView>;
  /** Refused (CONFLICT) while a run is active; deletes the job's runs, logs and metrics too. */
  delete(id: string): Promise<boolean>;
  /** Refused (CONFLICT) while a run is active. */
  updateCompute(jobId: string, input: ComputeConfigInput): Promise<JobView>;
  applyComputePreset(jobId: string, preset: string): Promise<JobView>;
  get(id: string): Promise<JobView | null>;
  /** Batch load for resolvers (`Run.job`), in the order of `ids`. */
  getMany(ids: readonly string[]): Promise<(JobView | null)[]>;
  list(filter: JobFilter | null | undefined, page: PageArgs): Promise<Connection<JobView> & { totalCount: number }>;
  computePresets(): ComputePresetView[];
  sourceTypes(): SourceTypeInfoView[];
  /** Checks, without starting anything, that the job's backend answers, its source answers, its compute maps and the engine has room. NOT_FOUND. */
  preflight(jobId: string): Promise<PreflightResultView>;
  testSourceConnection(input: SourceConfigInput): Promise<ConnectionTestResultView>;
}

export interface LogQuery {
  first?: number | null;
  after?: string | null;
  minLevel?: LogLevel | null;
  contains?: string | null;
}

/** `actor` on start/stop/retry: the caller's subject, recorded as the attempt's `triggeredBy` or the run's `stoppedBy`. */
export interface RunsApi {
  /** UNAVAILABLE when the job's backend is not configured; same idempotencyKey within 24 h → same run. */
  start(jobId: string, opts?: { idempotencyKey?: string | null; trigger?: RunTrigger; actor?: string | null }): Promise<RunView>;
  /** Same `idempotencyKey` within 24 h → the run as that first call left it, nothing done again. */
  stop(runId: string, force: boolean, opts?: { idempotencyKey?: string | null; actor?: string | null }): Promise<RunView>;
  /** Manual retry: a new attempt of a FAILED run (dead-lettered ones too); CONFLICT otherwise. Same key → same attempt. */
  retry(runId: string, opts?: { idempotencyKey?: string | null; actor?: string | null }): Promise<RunView>;
  get(id: string): Promise<RunView | null>;
  /** Batch load for resolvers (`Job.latestRun`), in the order of `ids`. */
  getMany(ids: readonly string[]): Promise<(RunView | null)[]>;
  list(filter: RunFilter | null | undefined, page: PageArgs): Promise<Connection<RunView> & { totalCount: number }>;
  /** Log lines in seq order after the cursor (a LogLine.seq). */
  logs(runId: string, query: LogQuery): Promise<Connection<LogLineView>>;
  stages(runId: string): Promise<StageView[]>;
  latestMetrics(runId: string): Promise<MetricsView | null>;
  /**
   * Batch load for resolvers (`Run.metricsHistory`): each run's samples of its current attempt taken
   * at or after `since`, oldest first, `first` (1..{@link MAX_METRICS_HISTORY}, default 600) per run at
   * most, in the order of `runIds` (empty for an unknown run). BAD_USER_INPUT naming `first`.
   */
  metricsHistory(runIds: readonly string[], query: MetricsHistoryQuery): Promise<MetricsView[][]>;
  /** When a RUNNING run should finish, from its stages and latest sample (src/runs/finish-estimate.ts); null when unknown. */
  estimatedFinishAt(run: RunView): string | null;
  stats(): Promise<JobStatsView>;
  /** The run as it stands, with its last `runEvents` cursor (one statement); null for an unknown run. */
  atCursor(runId: string): Promise<{ run: RunView; eventSeq: number } | null>;
  /** Log lines whose `runEvents` cursor lies in (`after`, `before`), in order, at most `limit` (no index of their own: src/runs/run-event-queries.ts). */
  logsByCursor(runId: string, range: CursorRange): Promise<SequencedLogLine[]>;
}

/** Most samples `Run.metricsHistory` returns per run. */
export const MAX_METRICS_HISTORY = 5000;

export interface MetricsHistoryQuery {
  since?: Date | null;
  first?: number | null;
}

export interface DeadLetterQuery {
  status?: DeadLetterStatus | null;
  runId?: string | null;
  topic?: string | null;
}

/** Kafka ingestion: dead letters and the consumer group's health. Implemented by src/kafka/ingest-api.ts. */
export interface IngestApi {
  /** Newest first; empty (never an error) for a run id that is not a uuid. */
  deadLetters(filter: DeadLetterQuery | null | undefined, page: PageArgs): Promise<Connection<DeadLetterView> & { totalCount: number }>;
  /** REPLAYED when it now applies, else PENDING with the new reason; same key within 24 h → as it is, nothing done again. NOT_FOUND. */
  replayDeadLetter(id: string, opts?: { idempotencyKey?: string | null }): Promise<DeadLetterView>;
  /** DISCARDED; same key within 24 h → as it is. NOT_FOUND. */
  discardDeadLetter(id: string, opts?: { idempotencyKey?: string | null }): Promise<DeadLetterView>;
  /** The consumer group's status; null when Kafka is not configured. */
  status(): Promise<IngestStatusView | null>;
}
