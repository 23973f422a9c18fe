/** The enum values the CLI checks its options against (before asking the gateway), and the checks. */
import type { ExecutionBackend, JobStatus, LogLevel, RunStatus } from '../client';
import { UsageError } from './exit-codes';

// `satisfies` + the Exact checks below keep these lists equal to the schema's enums (client/generated).
export const RUN_STATUSES = [
  'PENDING',
  'QUEUED',
  'RUNNING',
  'CANCELLING',
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
] as const satisfies readonly RunStatus[];
export const JOB_STATUSES = ['CREATED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'] as const satisfies readonly JobStatus[];
export const BACKENDS = ['LOCAL', 'SPARK', 'KAFKA'] as const satisfies readonly ExecutionBackend[];
export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const satisfies readonly LogLevel[];

type Exact<A, B> = [Exclude<A, B>, Exclude<B, A>] extends [never, never] ? true : never;
const _complete: [
  Exact<RunStatus, (typeof RUN_STATUSES)[number]>,
  Exact<JobStatus, (typeof JOB_STATUSES)[number]>,
  Exact<ExecutionBackend, (typeof BACKENDS)[number]>,
  Exact<LogLevel, (typeof LOG_LEVELS)[number]>,
] = [true, true, true, true];

/** `value` (any case) as one of `allowed`, or a {@link UsageError} naming the option; undefined stays undefined. */
export function oneOf<T extends string>(option: string, value: string | boolean | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined || typeof value === 'boolean') return undefined;
  const v = value.toUpperCase() as T;
  if (!allowed.includes(v)) throw new UsageError(`--${option} must be one of ${allowed.join(', ')}, not "${value}"`);
  return v;
}

/** A positive integer option (at most `max`), or `fallback` when not given. */
export function positiveInt(option: string, value: string | boolean | undefined, fallback: number, max = 1000): number {
  if (value === undefined || typeof value === 'boolean') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`--${option} must be a whole number from 1 to ${max}, not "${value}"`);
  return n;
}

/** A string option, or undefined. */
export const str = (value: string | boolean | undefined): string | undefined => (typeof value === 'string' ? value : undefined);

/** Whether a reference looks like an id (jobwire's ids are UUIDs) rather than a name. */
export const looksLikeId = (ref: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(ref);
