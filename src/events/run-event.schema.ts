/**
 * The Kafka contract of jobwire (docs/events.md) as one schema: the run events workers produce,
 * the commands jobwire sends them, and the headers of a dead-letter record. Types are inferred
 * from the schemas, so what is validated and what the code handles cannot drift apart.
 *
 * Absent and `null` mean the same (JSON producers write either) for every optional field. Unknown
 * fields are dropped, so a producer may send more than this version knows.
 */
import { z } from 'zod';
import {
  ClusterMode,
  DataFormat,
  ErrorKind,
  InstanceType,
  LogLevel,
  ProcessingMode,
  RunStatus,
  SourceType,
  StageStatus,
  type ComputeConfig,
  type Destination,
  type ProcessingConfig,
  type RunErrorView,
} from '../domain';

/** Default topic names (each configurable); every record is keyed by runId, which keeps one run's order. */
export const KAFKA_TOPICS = {
  /** Status changes, stage progress, metric samples, heartbeats. */
  runEvents: 'jobwire.run-events',
  /** Log lines (high volume, kept apart so they cannot delay status). */
  runLogs: 'jobwire.run-logs',
  /** Commands from jobwire to KAFKA-backend workers: `start`, `stop`. */
  runCommands: 'jobwire.run-commands',
  /** Records that could not be applied, with the reason in the headers. */
  deadLetter: 'jobwire.dead-letter',
} as const;

/** Longest free text (messages, error details, a dead-letter reason): 64 KiB. */
export const MAX_MESSAGE_LENGTH = 64 * 1024;

// ---------- building blocks ----------

/** Optional: absent or `null` parses as `undefined`. */
const optional = <T extends z.ZodType>(schema: T) =>
  schema
    .nullish()
    .transform((v) => v ?? undefined)
    .optional();
/** Absent or `null` parses as `fallback`. */
const withDefault = <T extends z.ZodType, D>(schema: T, fallback: D) => schema.nullish().transform((v) => v ?? fallback);
const text = (max: number) => z.string().max(max);
const requiredText = (max: number) => z.string().min(1).max(max);
const count = z.int().min(0);
const isoDateTime = z.iso.datetime({
  offset: true,
  error: (iss) => (iss.input == null ? 'is required' : 'must be an ISO-8601 date-time with a time zone, e.g. 2026-11-27T19:00:00.000Z'),
});
const uuid = (what: string) => z.guid({ error: (iss) => (iss.input == null ? 'is required' : `must be ${what} (uuid)`) });
const runId = uuid('a jobwire run id');

// ---------- payloads ----------

/** Why a run failed. `kind` defaults to PERMANENT (not retried); `details` to null. */
export const runErrorSchema = z.object({
  message: requiredText(MAX_MESSAGE_LENGTH),
  kind: withDefault(z.enum(ErrorKind), ErrorKind.PERMANENT),
  details: withDefault(text(MAX_MESSAGE_LENGTH), null),
}) satisfies z.ZodType<RunErrorView>;

/** `run.status` */
export const statusPayloadSchema = z.object({
  status: z.enum(RunStatus),
  message: optional(text(MAX_MESSAGE_LENGTH)),
  error: optional(runErrorSchema),
  /** The engine's own state word (Spark: SUBMITTED, RELAUNCHING …), kept as it came. */
  engineState: optional(text(200)),
  /** The backend's id for this run (Spark driver id …). */
  externalId: optional(text(500)),
});

/** `stage.progress`: counts by `increment` (applied once per eventId) or absolute `completedItems`, not both. */
export const stagePayloadSchema = z
  .object({
    stage: requiredText(200),
    totalItems: optional(count),
    /** `totalItems` is an estimate (e.g. from a file's size) that a later event may still correct. */
    totalIsEstimate: optional(z.boolean()),
    increment: optional(count),
    failedIncrement: optional(count),
    completedItems: optional(count),
    failedItems: optional(count),
    status: optional(z.enum(StageStatus)),
    message: optional(text(MAX_MESSAGE_LENGTH)),
  })
  .refine((p) => p.increment === undefined || p.completedItems === undefined, {
    path: ['increment'],
    error: 'give either increment or completedItems, not both',
  });

const measure = withDefault(z.number().min(0), 0);
/** `run.metrics`: a sample; every count defaults to 0, the utilisations (per cent) to none. */
export const metricsPayloadSchema = z.object({
  recordsProcessed: measure,
  recordsFailed: measure,
  throughputRps: measure,
  bytesProcessed: measure,
  activeWorkers: withDefault(count, 0),
  cpuUtilization: z.number().min(0).nullish(),
  memoryUtilization: z.number().min(0).nullish(),
});

/** One log line; `level` defaults to INFO, `timestamp` to the time jobwire applies it. */
export const logLineSchema = z.object({
  level: withDefault(z.enum(LogLevel), LogLevel.INFO),
  message: requiredText(MAX_MESSAGE_LENGTH),
  source: text(1024).nullish(),
  timestamp: optional(isoDateTime),
});
const logBatchSchema = z.object({ lines: z.array(logLineSchema).min(1) });
const logSingleSchema = logLineSchema.transform((line) => ({ lines: [line] }));

/**
 * `run.log`: one line, or a batch `{ "lines": [ … ] }`; parsed as a batch either way. The form is
 * told by `lines` being there, so an error names a field of the form the producer meant
 * (`payload.lines[2].message`, or `payload.message`).
 */
export const logPayloadSchema = z.looseObject({}).transform((p, ctx): z.output<typeof logBatchSchema> => {
  const result = (p.lines != null ? logBatchSchema : logSingleSchema).safeParse(p, { error: describeIssue });
  if (result.success) return result.data;
  for (const { message, path } of result.error.issues) ctx.addIssue({ code: 'custom', message, path });
  return z.NEVER;
});

/** `run.heartbeat`: the worker is alive while nothing else moves. Counts for liveness, not progress. */
export const heartbeatPayloadSchema = z.object({});
/** Who asked for a `run.retry` or `run.cancel`: a caller's subject, `retry-policy`, `stall-policy` … (audit: RunAttempt.triggeredBy, Run.stoppedBy). */
const actor = optional(requiredText(500));
/** `run.retry` (jobwire's own): `manual` for `retryRun`, false when the scheduler starts a due retry. */
export const retryPayloadSchema = z.object({ manual: withDefault(z.boolean(), false), actor });
/** `run.cancel` (jobwire's own). */
export const cancelPayloadSchema = z.object({
  force: withDefault(z.boolean(), false),
  reason: optional(text(1024)),
  /** A run already finished is refused with CONFLICT (and nothing in the transaction is written). */
  refuseFinished: optional(z.boolean()),
  actor,
});

// ---------- events ----------

const envelope = {
  /** The producer's unique id of the event (a uuid by convention): the dedupe key. Optional on jobwire's own events. */
  eventId: optional(requiredText(200)),
  runId,
  occurredAt: optional(isoDateTime),
  /** Free text naming the worker, e.g. `thumbnail-consumer@host-3`. */
  producer: optional(text(500)),
  /** The attempt the event belongs to (from the `start` command); events of an older attempt change nothing. */
  attempt: optional(z.int().min(1)),
};
const event = <T extends string, P extends z.ZodType>(type: T, payload: P) => z.object({ ...envelope, type: z.literal(type), payload });
const hasEventId = { eventId: requiredText(200) };

const statusEvent = event('run.status', statusPayloadSchema);
const stageEvent = event('stage.progress', stagePayloadSchema);
const metricsEvent = event('run.metrics', metricsPayloadSchema);
const logEvent = event('run.log', logPayloadSchema);
const heartbeatEvent = event('run.heartbeat', heartbeatPayloadSchema);
const retryEvent = event('run.retry', retryPayloadSchema);
const cancelEvent = event('run.cancel', cancelPayloadSchema);

/** The public types, which external producers may send. */
export const EXTERNAL_EVENT_TYPES = ['run.status', 'stage.progress', 'run.metrics', 'run.log', 'run.heartbeat'] as const;
/** Types jobwire issues itself (mutations, the scheduler): never accepted from Kafka. */
export const INTERNAL_EVENT_TYPES = ['run.retry', 'run.cancel'] as const;

const typeError = (types: readonly string[]) => (iss: z.core.$ZodRawIssue) =>
  iss.code !== 'invalid_union'
    ? undefined
    : (iss.input as { type?: unknown } | undefined)?.type == null
      ? 'is required'
      : `must be one of ${types.join(', ')}`;

/** Every run event, from any source; `eventId` is optional (jobwire's own events have none). */
export const runEventSchema = z.discriminatedUnion(
  'type',
  [statusEvent, stageEvent, metricsEvent, logEvent, heartbeatEvent, retryEvent, cancelEvent],
  { error: typeError([...EXTERNAL_EVENT_TYPES, ...INTERNAL_EVENT_TYPES]) },
);
/** A run event from an external producer (Kafka): a public type, with an `eventId`. */
export const externalRunEventSchema = z.discriminatedUnion(
  'type',
  [
    statusEvent.extend(hasEventId),
    stageEvent.extend(hasEventId),
    metricsEvent.extend(hasEventId),
    logEvent.extend(hasEventId),
    heartbeatEvent.extend(hasEventId),
  ],
  { error: typeError(EXTERNAL_EVENT_TYPES) },
);

// ---------- commands ----------

const jsonObject = z.record(z.string(), z.json());
/** The job a `start` command runs, as jobwire stores it; the source's secrets are left out of `params`. */
export const commandJobSchema = z.object({
  source: z.object({
    type: z.enum(SourceType),
    params: jsonObject,
    filePattern: z.string().nullable(),
    /** Whether column types are inferred when the destination table is created (default true). */
    schemaInference: z.boolean().nullish(),
  }),
  destination: z.object({ schema: requiredText(63), table: requiredText(63) }) satisfies z.ZodType<Destination>,
  processing: z.object({
    mode: z.enum(ProcessingMode),
    format: z.enum(DataFormat),
    batchSize: z.int().min(1),
    checkpointEnabled: z.boolean(),
    watermarkSeconds: count.nullable(),
    triggerIntervalSeconds: count.nullable(),
    maxRowsPerSecond: z.number().positive().nullish(),
  }) satisfies z.ZodType<ProcessingConfig>,
  compute: z.object({
    clusterMode: z.enum(ClusterMode),
    instanceType: z.enum(InstanceType),
    minWorkers: count,
    maxWorkers: count,
    autoscaling: z.boolean(),
    photon: z.boolean(),
    adaptiveQueryExecution: z.boolean(),
    dynamicPartitionPruning: z.boolean(),
    costBasedOptimizer: z.boolean(),
    sparkConf: jsonObject.nullable(),
  }) satisfies z.ZodType<ComputeConfig>,
});

const command = {
  commandId: uuid('a command id'),
  runId,
  /** The attempt to run or stop; the worker's events carry it back. */
  attempt: z.int().min(1),
  jobId: uuid('a jobwire job id'),
  issuedAt: isoDateTime,
};
/** A command on `jobwire.run-commands` (key = runId), from jobwire to a KAFKA-backend worker. */
export const runCommandSchema = z.discriminatedUnion(
  'type',
  [z.object({ ...command, type: z.literal('start'), job: commandJobSchema }), z.object({ ...command, type: z.literal('stop') })],
  { error: typeError(['start', 'stop']) },
);

// ---------- dead letters ----------

/** Header names of a dead-letter record; its key and value are the original record's, unchanged. */
export const DEAD_LETTER_HEADERS = {
  topic: 'jobwire-source-topic',
  partition: 'jobwire-source-partition',
  offset: 'jobwire-source-offset',
  reason: 'jobwire-reason',
} as const;
const decimal = z.string().regex(/^\d+$/, 'must be a decimal number');
/** The headers of a record on `jobwire.dead-letter` (Kafka header values are strings). */
export const deadLetterHeadersSchema = z.object({
  [DEAD_LETTER_HEADERS.topic]: requiredText(249),
  [DEAD_LETTER_HEADERS.partition]: decimal,
  [DEAD_LETTER_HEADERS.offset]: decimal,
  [DEAD_LETTER_HEADERS.reason]: requiredText(MAX_MESSAGE_LENGTH),
});

// ---------- types ----------

export type StatusPayload = z.output<typeof statusPayloadSchema>;
export type StagePayload = z.output<typeof stagePayloadSchema>;
export type MetricsPayload = z.output<typeof metricsPayloadSchema>;
export type LogInput = z.output<typeof logLineSchema>;
export type LogPayload = z.output<typeof logPayloadSchema>;
export type HeartbeatPayload = z.output<typeof heartbeatPayloadSchema>;
export type RetryPayload = z.output<typeof retryPayloadSchema>;
export type CancelPayload = z.output<typeof cancelPayloadSchema>;
/** Every run event the contract knows, heartbeats included: what {@link parseRunEvent} returns. */
export type AnyRunEvent = z.output<typeof runEventSchema>;
export type RunEventType = AnyRunEvent['type'];
export type HeartbeatEvent = Extract<AnyRunEvent, { type: 'run.heartbeat' }>;
/** The events that change a run (a heartbeat changes its liveness only): what `RunEventsService.apply` takes. */
export type RunEvent = AnyRunEvent;
export type RunCommand = z.output<typeof runCommandSchema>;
export type CommandJob = z.output<typeof commandJobSchema>;
export type DeadLetterHeaders = z.output<typeof deadLetterHeadersSchema>;

// ---------- parsing ----------

/** A malformed event or command; `field` names the offending path, e.g. `payload.status`, `payload.lines[2].message`. */
export class EventValidationError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'EventValidationError';
  }
}

/** Messages that say what to send instead, for the issues zod raises on this contract. */
function describeIssue(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input == null) return 'is required';
      return (
        { object: 'must be an object', array: 'must be an array', number: 'must be a finite number', int: 'must be an integer' }[
          iss.expected as string
        ] ?? `must be a ${iss.expected}`
      );
    case 'too_small':
      if (iss.origin === 'string' || iss.origin === 'array') return Number(iss.minimum) === 1 ? 'must not be empty' : undefined;
      return `must be >= ${iss.minimum}`;
    case 'too_big':
      if (iss.origin === 'string') return `must be at most ${iss.maximum} characters`;
      return iss.origin === 'array' ? `must have at most ${iss.maximum} items` : `must be <= ${iss.maximum}`;
    case 'invalid_value':
      return `must be one of ${iss.values.join(', ')}`;
    default:
      return undefined;
  }
}

/** `payload.lines[2].message` for `['payload', 'lines', 2, 'message']`. */
const fieldOf = (path: readonly PropertyKey[]) =>
  path.reduce<string>((acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)), '');

/** The first issue names the field (`what` when it is the whole value); up to five more are listed in the message. */
function validationError(error: z.ZodError, what: string): EventValidationError {
  const [first, ...rest] = error.issues;
  const more = rest.slice(0, 5).map((i) => `${fieldOf(i.path) || what}: ${i.message}`);
  return new EventValidationError(fieldOf(first.path) || what, [first.message, ...more].join('; also '));
}

/** Parses `raw` with `schema`; `what` names the whole value (`event`) when it is not an object at all. */
function parseWith<S extends z.ZodType>(schema: S, raw: unknown, what: string): z.output<S> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new EventValidationError(what, 'must be a JSON object');
  const result = schema.safeParse(raw, { error: describeIssue });
  if (!result.success) throw validationError(result.error, what);
  return result.data;
}

/**
 * Validates a run event as it arrives (from Kafka, or built in code) and returns it normalised:
 * defaults filled in, unknown fields dropped, a single log line turned into a batch. `external`
 * events must carry an `eventId` and use only the {@link EXTERNAL_EVENT_TYPES}.
 * Throws {@link EventValidationError} naming the field.
 */
export function parseRunEvent(raw: unknown, opts: { external: boolean }): AnyRunEvent {
  return parseWith(opts.external ? externalRunEventSchema : runEventSchema, raw, 'event');
}

/** Validates a command from `jobwire.run-commands`. Throws {@link EventValidationError} naming the field. */
export function parseRunCommand(raw: unknown): RunCommand {
  return parseWith(runCommandSchema, raw, 'command');
}

/** Validates the headers of a dead-letter record. Throws {@link EventValidationError} naming the header. */
export function parseDeadLetterHeaders(raw: unknown): DeadLetterHeaders {
  return parseWith(deadLetterHeadersSchema, raw, 'headers');
}
