/**
 * Validation of job inputs into complete, normalised job definitions. Pure: nothing here touches
 * the database, so a service can validate everything before it writes anything.
 * Every failure is BAD_USER_INPUT naming the full input path (e.g. `input.compute.minWorkers`);
 * messages never echo source params (they may be secrets).
 */
import {
  ClusterMode,
  DataFormat,
  ExecutionBackend,
  InstanceType,
  ProcessingMode,
  SourceType,
  StallAction,
  type ComputeConfig,
  type Destination,
  type JsonObject,
  type ProcessingConfig,
  type SparkApplication,
  type ScheduleConfig,
  type SourceConfig,
} from '../domain';
import { badInput } from '../errors';
import { isReservedSchema } from '../db/db-schema';
import type { SourceCapability } from '../backends/backend';
import { isValidObjectName } from '../backends/local/ingest/identifiers';
import { reservedSparkKey } from '../backends/spark/compute-mapping';
import { validateCron } from './cron';
import type {
  ComputeConfigInput,
  CreateJobInput,
  ProcessingConfigInput,
  ScheduleConfigInput,
  SourceConfigInput,
  UpdateJobInput,
} from './job-input';
import { defaultCompute } from './presets';
import { mergeMaskedParams } from './secrets';
import { isPlainObject, validateSourceParams } from './source-types';

/** A job definition as stored (everything but ids, status and timestamps). */
export interface JobDraft {
  name: string;
  description: string | null;
  tags: string[];
  backend: ExecutionBackend;
  source: SourceConfig;
  destination: Destination;
  processing: ProcessingConfig;
  compute: ComputeConfig;
  schedule: ScheduleConfig | null;
  /** Null: RETRY_MAX_ATTEMPTS when a run is created. */
  maxAttempts: number | null;
  /** Null: STALL_THRESHOLD_MS. */
  stallTimeoutSeconds: number | null;
  onStall: StallAction;
}

export const LIMITS = {
  name: 200,
  description: 10_000,
  tags: 50,
  tag: 100,
  filePattern: 500,
  maxAttempts: 100,
  stallTimeoutSeconds: 30 * 24 * 3600,
  maxWorkers: 1000,
  batchSize: 10_000_000,
  retryDelaySeconds: 7 * 24 * 3600,
  sparkConfEntries: 500,
} as const;

const stallTimeout = (v: unknown) => int(v, 'input.stallTimeoutSeconds', 1, LIMITS.stallTimeoutSeconds);

const given = <T>(v: T | null | undefined): v is T => v !== undefined && v !== null;

function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw badInput(path, 'must be an integer');
  if (v < min || v > max) throw badInput(path, `must be between ${min} and ${max}`);
  return v;
}

function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') throw badInput(path, 'must be true or false');
  return v;
}

function oneOf<T extends string>(v: unknown, values: Record<string, T>, path: string): T {
  if (!Object.values(values).includes(v as T)) throw badInput(path, `must be one of ${Object.values(values).join(', ')}`);
  return v as T;
}

function name(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw badInput(path, 'must not be empty');
  if (v.trim().length > LIMITS.name) throw badInput(path, `must be at most ${LIMITS.name} characters`);
  return v.trim();
}

function description(v: unknown, path: string): string | null {
  if (!given(v)) return null;
  if (typeof v !== 'string') throw badInput(path, 'must be a string');
  if (v.length > LIMITS.description) throw badInput(path, `must be at most ${LIMITS.description} characters`);
  return v;
}

/** Tags are trimmed and de-duplicated, order kept. */
function tags(v: unknown, path: string): string[] {
  if (!given(v)) return [];
  if (!Array.isArray(v)) throw badInput(path, 'must be a list of strings');
  if (v.length > LIMITS.tags) throw badInput(path, `must have at most ${LIMITS.tags} tags`);
  const out: string[] = [];
  v.forEach((t, i) => {
    if (typeof t !== 'string' || t.trim() === '') throw badInput(`${path}[${i}]`, 'must be a non-empty string');
    if (t.trim().length > LIMITS.tag) throw badInput(`${path}[${i}]`, `must be at most ${LIMITS.tag} characters`);
    if (!out.includes(t.trim())) out.push(t.trim());
  });
  return out;
}

/** Validates a source; `path` is where it sits in the input (`input.source`, or `input` for a connection test). */
export function validateSource(input: SourceConfigInput, path: string): SourceConfig {
  if (!isPlainObject(input)) throw badInput(path, 'is required');
  const type = oneOf(input.type, SourceType, `${path}.type`);
  const params = validateSourceParams(type, input.params, `${path}.params`);
  let filePattern: string | null = null;
  if (given(input.filePattern)) {
    if (typeof input.filePattern !== 'string' || input.filePattern.trim() === '' || input.filePattern.length > LIMITS.filePattern) {
      throw badInput(`${path}.filePattern`, `must be a non-empty glob of at most ${LIMITS.filePattern} characters`);
    }
    filePattern = input.filePattern;
  }
  const schemaInference = given(input.schemaInference) ? bool(input.schemaInference, `${path}.schemaInference`) : true;
  return { type, params, filePattern, schemaInference };
}

function destination(v: unknown, path: string): Destination {
  if (!isPlainObject(v)) throw badInput(path, 'is required');
  for (const key of ['schema', 'table'] as const) {
    if (!isValidObjectName(v[key])) throw badInput(`${path}.${key}`, 'must be 1-63 letters, digits or underscores');
  }
  if (isReservedSchema(v.schema as string)) {
    throw badInput(`${path}.schema`, `may not be jobwire's own schema or a PostgreSQL system schema (pg_*, information_schema)`);
  }
  return { schema: v.schema as string, table: v.table as string };
}

const DEFAULT_PROCESSING: ProcessingConfig = {
  mode: ProcessingMode.BATCH,
  format: DataFormat.AUTO,
  batchSize: 10_000,
  checkpointEnabled: false,
  watermarkSeconds: null,
  triggerIntervalSeconds: null,
  maxRowsPerSecond: null,
};

/** Processing settings over `base`: absent or null fields keep `base` (the two nullable ones clear on null). */
function processing(input: ProcessingConfigInput | null | undefined, base: ProcessingConfig, path: string): ProcessingConfig {
  if (!given(input)) return { ...base };
  if (!isPlainObject(input)) throw badInput(path, 'must be an object');
  const out = { ...base };
  if (given(input.mode)) out.mode = oneOf(input.mode, ProcessingMode, `${path}.mode`);
  if (given(input.format)) out.format = oneOf(input.format, DataFormat, `${path}.format`);
  if (given(input.batchSize)) out.batchSize = int(input.batchSize, `${path}.batchSize`, 1, LIMITS.batchSize);
  if (given(input.checkpointEnabled)) out.checkpointEnabled = bool(input.checkpointEnabled, `${path}.checkpointEnabled`);
  if (input.watermarkSeconds !== undefined) {
    out.watermarkSeconds =
      input.watermarkSeconds === null ? null : int(input.watermarkSeconds, `${path}.watermarkSeconds`, 0, 30 * 24 * 3600);
  }
  if (input.triggerIntervalSeconds !== undefined) {
    out.triggerIntervalSeconds =
      input.triggerIntervalSeconds === null ? null : int(input.triggerIntervalSeconds, `${path}.triggerIntervalSeconds`, 1, 24 * 3600);
  }
  if (input.maxRowsPerSecond !== undefined) {
    out.maxRowsPerSecond = input.maxRowsPerSecond === null ? null : int(input.maxRowsPerSecond, `${path}.maxRowsPerSecond`, 1, 100_000_000);
  }
  if (input.sparkApplication !== undefined) {
    out.sparkApplication = input.sparkApplication === null ? null : sparkApplication(input.sparkApplication, `${path}.sparkApplication`);
  }
  return out;
}

// A jar or file a Spark cluster can fetch: a URL of a scheme Spark reads, or an absolute path.
const APP_RESOURCE = /^(file|local|https?|hdfs|s3a|gs|abfss?):\/\/?[^\s]+$|^\/[^\s]*$/;
// A Java class name: dotted identifiers (nested classes with $).
const JAVA_CLASS = /^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$/;

/** A user's Spark application: where its jar is, its main class, its arguments (strings). */
function sparkApplication(v: unknown, path: string): SparkApplication {
  if (!isPlainObject(v)) throw badInput(path, 'must be an object with appResource, mainClass and args');
  const appResource = v.appResource;
  if (typeof appResource !== 'string' || appResource.length > 2000 || !APP_RESOURCE.test(appResource)) {
    throw badInput(
      `${path}.appResource`,
      'must be an absolute path or a file:, local:, http(s):, hdfs:, s3a:, gs: or abfs(s): URL of the jar',
    );
  }
  const mainClass = v.mainClass;
  if (typeof mainClass !== 'string' || mainClass.length > 500 || !JAVA_CLASS.test(mainClass)) {
    throw badInput(`${path}.mainClass`, 'must be a Java class name, e.g. com.example.Main');
  }
  const args = v.args ?? [];
  if (!Array.isArray(args) || args.length > 1000) throw badInput(`${path}.args`, 'must be a list of at most 1000 strings');
  args.forEach((a, i) => {
    if (typeof a !== 'string' || a.length > 10_000) throw badInput(`${path}.args[${i}]`, 'must be a string of at most 10000 characters');
  });
  return { appResource, mainClass, args: [...(args as string[])] };
}

function sparkConf(v: unknown, stored: JsonObject | null, path: string): JsonObject | null {
  if (v === null) return null;
  if (!isPlainObject(v)) throw badInput(path, 'must be a JSON object of Spark properties');
  const entries = Object.entries(v);
  if (entries.length > LIMITS.sparkConfEntries) throw badInput(path, `must have at most ${LIMITS.sparkConfEntries} properties`);
  for (const [k, x] of entries) {
    if (k.trim() === '' || k.length > 200) throw badInput(path, 'property names must be 1-200 characters');
    if (reservedSparkKey(k)) throw badInput(`${path}.${k}`, 'is set by jobwire itself for every submission (see docs/spark-compute.md)');
    const ok = typeof x === 'string' || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x));
    if (!ok) throw badInput(`${path}.${k}`, 'must be a string, number or boolean');
  }
  // Views mask secret-looking Spark properties; a round-tripped "***" keeps the stored value.
  return mergeMaskedParams(stored, v as JsonObject, path);
}

/**
 * Merges a partial compute input over `base` and validates the result: integers >= 0, maxWorkers
 * at most 1000, minWorkers <= maxWorkers, sparkConf a JSON object of string/number/boolean values
 * (null clears it, absent keeps it). `path` is the input's path (`input.compute`, or `input`).
 */
export function validateCompute(input: ComputeConfigInput | null | undefined, base: ComputeConfig, path: string): ComputeConfig {
  const out: ComputeConfig = { ...base };
  if (!given(input)) return out;
  if (!isPlainObject(input)) throw badInput(path, 'must be an object');
  if (given(input.clusterMode)) out.clusterMode = oneOf(input.clusterMode, ClusterMode, `${path}.clusterMode`);
  if (given(input.instanceType)) out.instanceType = oneOf(input.instanceType, InstanceType, `${path}.instanceType`);
  if (given(input.minWorkers)) out.minWorkers = int(input.minWorkers, `${path}.minWorkers`, 0, LIMITS.maxWorkers);
  if (given(input.maxWorkers)) out.maxWorkers = int(input.maxWorkers, `${path}.maxWorkers`, 0, LIMITS.maxWorkers);
  for (const key of ['autoscaling', 'photon', 'adaptiveQueryExecution', 'dynamicPartitionPruning', 'costBasedOptimizer'] as const) {
    if (given(input[key])) out[key] = bool(input[key], `${path}.${key}`);
  }
  if (input.sparkConf !== undefined) out.sparkConf = sparkConf(input.sparkConf, base.sparkConf, `${path}.sparkConf`);
  if (out.minWorkers > out.maxWorkers) {
    throw badInput(`${path}.minWorkers`, `must not exceed maxWorkers (${out.minWorkers} > ${out.maxWorkers})`);
  }
  return out;
}

function dateTime(v: unknown, path: string): string | null {
  if (!given(v)) return null;
  const d = v instanceof Date ? v : typeof v === 'string' ? new Date(v) : null;
  if (!d || Number.isNaN(d.getTime())) throw badInput(path, 'must be an ISO-8601 date-time');
  return d.toISOString();
}

/** A schedule with GraphQL's defaults filled in: timezone UTC, retryDelaySeconds 300, enabled. */
export function validateSchedule(input: ScheduleConfigInput, path: string): ScheduleConfig {
  if (!isPlainObject(input)) throw badInput(path, 'must be an object');
  if (typeof input.cron !== 'string' || input.cron.trim() === '') throw badInput(`${path}.cron`, 'must be a cron expression');
  const timezone = given(input.timezone) ? input.timezone : 'UTC';
  if (typeof timezone !== 'string') throw badInput(`${path}.timezone`, 'must be an IANA time zone');
  validateCron(input.cron, timezone, path);
  const startAt = dateTime(input.startAt, `${path}.startAt`);
  const endAt = dateTime(input.endAt, `${path}.endAt`);
  if (startAt && endAt && startAt >= endAt) throw badInput(`${path}.endAt`, 'must be after startAt');
  return {
    cron: input.cron.trim(),
    timezone,
    startAt,
    endAt,
    retryDelaySeconds: given(input.retryDelaySeconds)
      ? int(input.retryDelaySeconds, `${path}.retryDelaySeconds`, 0, LIMITS.retryDelaySeconds)
      : 300,
    enabled: given(input.enabled) ? bool(input.enabled, `${path}.enabled`) : true,
  };
}

/** What each backend can execute here (see Backend.sources): creating a job its backend cannot run is refused. */
export type Capabilities = (backend: ExecutionBackend) => readonly SourceCapability[];

/**
 * Refuses a job its backend cannot execute, naming the field: the source type
 * (`input.source.type`), the format (`input.processing.format`) or the mode (`input.processing.mode`).
 */
function checkSourceType(backend: ExecutionBackend, type: unknown, capabilities: Capabilities, path: string): SourceCapability | null {
  const sources = capabilities(backend);
  const cap = sources.find((c) => c.type === type);
  if (!cap && Object.values(SourceType).includes(type as SourceType)) {
    const can = sources.map((c) => c.type).join(', ') || 'nothing';
    throw badInput(`${path}.source.type`, `the ${backend} backend cannot execute ${type} sources; it executes ${can}`);
  }
  return cap ?? null;
}

function checkExecutable(job: JobDraft, capabilities: Capabilities, path: string): void {
  if (job.processing.sparkApplication && job.backend !== ExecutionBackend.SPARK) {
    throw badInput(
      `${path}.processing.sparkApplication`,
      `only SPARK jobs run an application of their own; this job's backend is ${job.backend}`,
    );
  }
  const cap = checkSourceType(job.backend, job.source.type, capabilities, path)!;
  if (!cap.formats.includes(job.processing.format)) {
    throw badInput(
      `${path}.processing.format`,
      `the ${job.backend} backend cannot read ${job.source.type} sources as ${job.processing.format}; use ${cap.formats.join(', ')}`,
    );
  }
  if (!cap.modes.includes(job.processing.mode)) {
    throw badInput(
      `${path}.processing.mode`,
      `the ${job.backend} backend runs ${job.source.type} sources in ${cap.modes.join(', ')} mode only`,
    );
  }
}

/**
 * Validates a whole CreateJobInput and fills in defaults: tags [], backend LOCAL, processing
 * BATCH/AUTO/10000, compute = the "small" preset, maxAttempts = `defaultMaxAttempts`.
 */
export function validateCreateJob(input: CreateJobInput, capabilities: Capabilities): JobDraft {
  if (!isPlainObject(input as unknown)) throw badInput('input', 'is required');
  const backend = given(input.backend) ? oneOf(input.backend, ExecutionBackend, 'input.backend') : ExecutionBackend.LOCAL;
  // Whether the backend runs this kind of source at all comes before the details of its params.
  if (isPlainObject(input.source as unknown)) checkSourceType(backend, input.source.type, capabilities, 'input');
  const job: JobDraft = {
    name: name(input.name, 'input.name'),
    description: description(input.description, 'input.description'),
    tags: tags(input.tags, 'input.tags'),
    backend,
    source: validateSource(input.source, 'input.source'),
    destination: destination(input.destination, 'input.destination'),
    processing: processing(input.processing, DEFAULT_PROCESSING, 'input.processing'),
    compute: validateCompute(input.compute, defaultCompute(), 'input.compute'),
    schedule: given(input.schedule) ? validateSchedule(input.schedule, 'input.schedule') : null,
    maxAttempts: given(input.maxAttempts) ? int(input.maxAttempts, 'input.maxAttempts', 1, LIMITS.maxAttempts) : null,
    stallTimeoutSeconds: given(input.stallTimeoutSeconds) ? stallTimeout(input.stallTimeoutSeconds) : null,
    onStall: given(input.onStall) ? oneOf(input.onStall, StallAction, 'input.onStall') : StallAction.NONE,
  };
  checkExecutable(job, capabilities, 'input');
  return job;
}

/**
 * Applies a partial update to `current` and validates the result. Absent fields keep their value;
 * `schedule: null` removes the schedule; a source param sent back as `"***"` keeps the stored secret.
 */
export function validateJobUpdate(input: UpdateJobInput, current: JobDraft, capabilities: Capabilities): JobDraft {
  if (!isPlainObject(input as unknown)) throw badInput('input', 'is required');
  const job: JobDraft = structuredClone(current);
  if (input.name !== undefined) job.name = name(input.name, 'input.name');
  if (input.description !== undefined) job.description = description(input.description, 'input.description');
  if (input.tags !== undefined) job.tags = tags(input.tags, 'input.tags');
  if (given(input.source)) {
    if (isPlainObject(input.source as unknown)) checkSourceType(job.backend, input.source.type, capabilities, 'input');
    const params = isPlainObject(input.source.params)
      ? mergeMaskedParams(current.source.params, input.source.params as JsonObject, 'input.source.params')
      : input.source.params;
    job.source = validateSource({ ...input.source, params }, 'input.source');
  }
  if (given(input.destination)) job.destination = destination(input.destination, 'input.destination');
  if (given(input.processing)) job.processing = processing(input.processing, current.processing, 'input.processing');
  if (input.schedule === null) job.schedule = null;
  else if (input.schedule !== undefined) job.schedule = validateSchedule(input.schedule, 'input.schedule');
  if (given(input.maxAttempts)) job.maxAttempts = int(input.maxAttempts, 'input.maxAttempts', 1, LIMITS.maxAttempts);
  if (given(input.stallTimeoutSeconds)) job.stallTimeoutSeconds = stallTimeout(input.stallTimeoutSeconds);
  if (given(input.onStall)) job.onStall = oneOf(input.onStall, StallAction, 'input.onStall');
  checkExecutable(job, capabilities, 'input');
  return job;
}
