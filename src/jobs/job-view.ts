import { iso } from '../runs/run-rows';
import type {
  ComputeConfig,
  Destination,
  ExecutionBackend,
  JobStatus,
  JobView,
  ProcessingConfig,
  ScheduleConfig,
  SourceConfig,
  StallAction,
} from '../domain';
import type { JobDraft } from './job-validation';
import { maskParams } from './secrets';

/** A `jobs` row (secrets included: never log one). */
export interface JobRow {
  id: string;
  name: string;
  description: string | null;
  tags: string[];
  backend: ExecutionBackend;
  source: SourceConfig;
  destination: Destination;
  processing: ProcessingConfig;
  compute: ComputeConfig;
  schedule: ScheduleConfig | null;
  nextRunAt: Date | null;
  maxAttempts: number | null;
  stallTimeoutSeconds: number | null;
  onStall: StallAction;
  status: JobStatus;
  latestRunId: string | null;
  /** Who created it (audit); null for jobs made before this was recorded. */
  createdBy: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** Job columns in {@link JobRow}'s names, for `select ${JOB_COLUMNS} from jobs`. */
export const JOB_COLUMNS = `id, name, description, tags, backend, source, destination, processing, compute, schedule,
  next_run_at as "nextRunAt", max_attempts as "maxAttempts", stall_timeout_seconds as "stallTimeoutSeconds", on_stall as "onStall",
  status, latest_run_id as "latestRunId", created_by as "createdBy", created_at as "createdAt", updated_at as "updatedAt"`;

/** What a job inherits from the gateway when it sets nothing itself. */
export interface JobDefaults {
  /** RETRY_MAX_ATTEMPTS. */
  maxAttempts: number;
  /** STALL_THRESHOLD_MS, in seconds. */
  stallTimeoutSeconds: number;
}

/**
 * The client-facing shape of a job: plain data with every secret in `source.params` (and
 * secret-looking Spark properties) replaced by `"***"`, and the gateway's defaults where the job
 * sets none. Every JobView that leaves the core is made here.
 */
export function toJobView(job: JobRow, defaults: JobDefaults): JobView {
  return {
    id: job.id,
    name: job.name,
    description: job.description,
    tags: [...job.tags],
    backend: job.backend,
    source: { ...job.source, params: maskParams(job.source.params) },
    destination: { ...job.destination },
    processing: { ...job.processing },
    compute: { ...job.compute, sparkConf: maskParams(job.compute.sparkConf) },
    schedule: job.schedule ? { ...job.schedule, nextRunAt: iso(job.nextRunAt) } : null,
    maxAttempts: job.maxAttempts ?? defaults.maxAttempts,
    stallTimeoutSeconds: job.stallTimeoutSeconds ?? defaults.stallTimeoutSeconds,
    onStall: job.onStall,
    status: job.status,
    latestRunId: job.latestRunId,
    createdBy: job.createdBy,
    createdAt: iso(job.createdAt)!,
    updatedAt: iso(job.updatedAt)!,
  };
}

/** The stored definition of a job (secrets included), as the validation works on it. */
export function toJobDraft(job: JobRow): JobDraft {
  return structuredClone({
    name: job.name,
    description: job.description,
    tags: job.tags,
    backend: job.backend,
    source: job.source,
    destination: job.destination,
    processing: job.processing,
    compute: job.compute,
    schedule: job.schedule,
    maxAttempts: job.maxAttempts,
    stallTimeoutSeconds: job.stallTimeoutSeconds,
    onStall: job.onStall,
  });
}
