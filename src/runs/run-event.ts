import { ErrorKind, LogLevel, RunStatus, StageStatus } from '../domain';
import type { RunErrorView } from '../domain';
import { isUuid } from '../pagination';

/**
 * Run events: the one vocabulary in which every change to a run is expressed, whatever its source
 * (Kafka, the Spark poller, the LOCAL executor, mutations, the scheduler, the stuck monitor).
 * The first four types are the public Kafka contract (shared/design/events.md); the last two are
 * issued by jobwire itself.
 */
export type RunEventType = 'run.status' | 'stage.progress' | 'run.metrics' | 'run.log' | 'run.retry' | 'run.cancel';
export const EXTERNAL_EVENT_TYPES: readonly RunEventType[] = ['run.status', 'stage.progress', 'run.metrics', 'run.log'];

export interface StatusPayload {
  status: RunStatus;
  message?: string;
  error?: RunErrorView;
  /** The engine's own state word (Spark: SUBMITTED, RELAUNCHING …), kept as it came. */
  engineState?: string;
  /** The backend's id for this run (Spark driver id …). */
  externalId?: string;
}
export interface StagePayload {
  stage: string;
  totalItems?: number;
  increment?: number;
  failedIncrement?: number;
  completedItems?: number;
  failedItems?: number;
  status?: StageStatus;
  message?: string;
  /** `totalItems` is an estimate that may still be corrected. */
  totalIsEstimate?: boolean;
}
export interface MetricsPayload {
  recordsProcessed: number;
  recordsFailed: number;
  throughputRps: number;
  bytesProcessed: number;
  activeWorkers: number;
  cpuUtilization?: number | null;
  memoryUtilization?: number | null;
}
export interface LogInput {
  level: LogLevel;
  message: string;
  source?: string | null;
  timestamp?: string;
}
export interface LogPayload {
  lines: LogInput[];
}
export interface RetryPayload {
  /** true for `retryRun`; false when the scheduler starts a due automatic retry. */ manual: boolean;
}
export interface CancelPayload {
  force: boolean;
  reason?: string;
  /** A run already finished is refused with CONFLICT (and nothing in the transaction is written). */
  refuseFinished?: boolean;
}

interface Envelope<T extends RunEventType, P> {
  /** The dedupe key; required from external producers, optional for jobwire's own events. */
  eventId?: string;
  runId: string;
  type: T;
  occurredAt?: string;
  producer?: string;
  /** When set, the event belongs to that attempt; events of an older attempt change nothing. */
  attempt?: number;
  payload: P;
}

export type RunEvent =
  | Envelope<'run.status', StatusPayload>
  | Envelope<'stage.progress', StagePayload>
  | Envelope<'run.metrics', MetricsPayload>
  | Envelope<'run.log', LogPayload>
  | Envelope<'run.retry', RetryPayload>
  | Envelope<'run.cancel', CancelPayload>;

/** A malformed event; `field` names the offending path, e.g. `payload.status`. */
export class EventValidationError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'EventValidationError';
  }
}

const MAX_MESSAGE = 64 * 1024;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function str(o: Obj, key: string, path: string, required: boolean, max = 1024): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) throw new EventValidationError(`${path}${key}`, 'is required');
    return undefined;
  }
  if (typeof v !== 'string' || (required && v.length === 0)) throw new EventValidationError(`${path}${key}`, 'must be a non-empty string');
  if (v.length > max) throw new EventValidationError(`${path}${key}`, `must be at most ${max} characters`);
  return v;
}

function num(o: Obj, key: string, path: string, opts: { required?: boolean; int?: boolean; min?: number } = {}): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) {
    if (opts.required) throw new EventValidationError(`${path}${key}`, 'is required');
    return undefined;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new EventValidationError(`${path}${key}`, 'must be a finite number');
  if (opts.int && !Number.isInteger(v)) throw new EventValidationError(`${path}${key}`, 'must be an integer');
  if (opts.min !== undefined && v < opts.min) throw new EventValidationError(`${path}${key}`, `must be >= ${opts.min}`);
  return v;
}

function oneOf<T extends string>(o: Obj, key: string, path: string, values: Record<string, T>, required: boolean): T | undefined {
  const v = str(o, key, path, required);
  if (v === undefined) return undefined;
  if (!Object.values(values).includes(v as T)) {
    throw new EventValidationError(`${path}${key}`, `must be one of ${Object.values(values).join(', ')}`);
  }
  return v as T;
}

function date(o: Obj, key: string, path: string): string | undefined {
  const v = str(o, key, path, false, 64);
  if (v !== undefined && Number.isNaN(Date.parse(v))) throw new EventValidationError(`${path}${key}`, 'must be an ISO-8601 date-time');
  return v;
}

function parseError(v: unknown, path: string): RunErrorView | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw new EventValidationError(path, 'must be an object');
  return {
    message: str(v, 'message', `${path}.`, true, MAX_MESSAGE)!,
    kind: oneOf(v, 'kind', `${path}.`, ErrorKind, false) ?? ErrorKind.PERMANENT,
    details: str(v, 'details', `${path}.`, false, MAX_MESSAGE) ?? null,
  };
}

function parseLog(v: unknown, path: string): LogInput {
  if (!isObj(v)) throw new EventValidationError(path, 'must be an object');
  return {
    level: oneOf(v, 'level', `${path}.`, LogLevel, false) ?? LogLevel.INFO,
    message: str(v, 'message', `${path}.`, true, MAX_MESSAGE)!,
    source: str(v, 'source', `${path}.`, false) ?? null,
    timestamp: date(v, 'timestamp', `${path}.`),
  };
}

/**
 * Validates an event as it arrives (from Kafka, or built in code) and returns it normalised.
 * `external` events must carry an `eventId` and use only the public types.
 * Throws {@link EventValidationError} naming the field.
 */
export function parseRunEvent(raw: unknown, opts: { external: boolean }): RunEvent {
  if (!isObj(raw)) throw new EventValidationError('event', 'must be a JSON object');
  const eventId = str(raw, 'eventId', '', opts.external, 200);
  const runId = str(raw, 'runId', '', true, 64)!;
  if (!isUuid(runId)) throw new EventValidationError('runId', 'must be a jobwire run id (uuid)');
  const type = str(raw, 'type', '', true) as RunEventType;
  const allowed = opts.external ? EXTERNAL_EVENT_TYPES : [...EXTERNAL_EVENT_TYPES, 'run.retry', 'run.cancel'];
  if (!allowed.includes(type)) throw new EventValidationError('type', `must be one of ${allowed.join(', ')}`);
  const occurredAt = date(raw, 'occurredAt', '');
  const producer = str(raw, 'producer', '', false, 500);
  const attempt = num(raw, 'attempt', '', { int: true, min: 1 });
  const p = raw.payload;
  if (!isObj(p)) throw new EventValidationError('payload', 'must be an object');
  const base = { eventId, runId, occurredAt, producer, attempt };
  switch (type) {
    case 'run.status':
      return {
        ...base,
        type,
        payload: {
          status: oneOf(p, 'status', 'payload.', RunStatus, true)!,
          message: str(p, 'message', 'payload.', false, MAX_MESSAGE),
          error: parseError(p.error, 'payload.error'),
          engineState: str(p, 'engineState', 'payload.', false, 200),
          externalId: str(p, 'externalId', 'payload.', false, 500),
        },
      };
    case 'stage.progress': {
      const payload: StagePayload = {
        stage: str(p, 'stage', 'payload.', true, 200)!,
        totalItems: num(p, 'totalItems', 'payload.', { int: true, min: 0 }),
        increment: num(p, 'increment', 'payload.', { int: true, min: 0 }),
        failedIncrement: num(p, 'failedIncrement', 'payload.', { int: true, min: 0 }),
        completedItems: num(p, 'completedItems', 'payload.', { int: true, min: 0 }),
        failedItems: num(p, 'failedItems', 'payload.', { int: true, min: 0 }),
        status: oneOf(p, 'status', 'payload.', StageStatus, false),
        message: str(p, 'message', 'payload.', false, MAX_MESSAGE),
      };
      if (payload.increment !== undefined && payload.completedItems !== undefined) {
        throw new EventValidationError('payload.increment', 'give either increment or completedItems, not both');
      }
      return { ...base, type, payload };
    }
    case 'run.metrics':
      return {
        ...base,
        type,
        payload: {
          recordsProcessed: num(p, 'recordsProcessed', 'payload.', { min: 0 }) ?? 0,
          recordsFailed: num(p, 'recordsFailed', 'payload.', { min: 0 }) ?? 0,
          throughputRps: num(p, 'throughputRps', 'payload.', { min: 0 }) ?? 0,
          bytesProcessed: num(p, 'bytesProcessed', 'payload.', { min: 0 }) ?? 0,
          activeWorkers: num(p, 'activeWorkers', 'payload.', { int: true, min: 0 }) ?? 0,
          cpuUtilization: num(p, 'cpuUtilization', 'payload.', { min: 0 }) ?? null,
          memoryUtilization: num(p, 'memoryUtilization', 'payload.', { min: 0 }) ?? null,
        },
      };
    case 'run.log': {
      const lines = Array.isArray(p.lines) ? p.lines.map((l, i) => parseLog(l, `payload.lines[${i}]`)) : [parseLog(p, 'payload')];
      if (lines.length === 0) throw new EventValidationError('payload.lines', 'must not be empty');
      return { ...base, type, payload: { lines } };
    }
    case 'run.retry':
      return { ...base, type, payload: { manual: p.manual === true } };
    case 'run.cancel':
      return { ...base, type, payload: { force: p.force === true, reason: str(p, 'reason', 'payload.', false) } };
  }
}
