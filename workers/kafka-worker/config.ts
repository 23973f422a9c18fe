import os from 'node:os';
import path from 'node:path';
import { ConfigError, SECOND, type LogLevelName } from '../../src/config';
import { KAFKA_TOPICS } from '../../src/events/run-event.schema';

/**
 * The Kafka worker's whole configuration, from its own environment (it shares nothing with the
 * gateway's). Built once by {@link loadWorkerConfig}, frozen, then passed down.
 */
export interface WorkerConfig {
  /** `KAFKA_BROKERS` (required): comma-separated `host:port` pairs. */
  kafkaBrokers: string[];
  /**
   * `KAFKA_TOPIC_RUN_COMMANDS`, `KAFKA_TOPIC_RUN_EVENTS`, `KAFKA_TOPIC_RUN_LOGS`; defaults
   * `jobwire.run-commands`, `jobwire.run-events`, `jobwire.run-logs` (docs/events.md).
   */
  topics: { runCommands: string; runEvents: string; runLogs: string };
  /** `WORKER_GROUP_ID`: the consumer group every worker shares, so each command is handled once. Default `jobwire-workers`. */
  groupId: string;
  /**
   * `WORKER_FROM_BEGINNING`: where a group that has no committed offset yet starts reading. Default
   * false: only commands produced from then on (a new deployment does not re-run the history still
   * on the topic). true: every command still on the topic — for a topic that holds only commands
   * not yet executed (tests, a first start after the commands were produced).
   */
  fromBeginning: boolean;
  /** `WORKER_DATABASE_URL` (required): the destination PostgreSQL the worker loads into. */
  databaseUrl: string;
  /** `WORKER_CONCURRENCY`: runs executing at once in this worker. Default 2. */
  concurrency: number;
  /** `WORKER_HEARTBEAT_MS`: a `run.heartbeat` of every executing run this often. Default 10 s. */
  heartbeatMs: number;
  /**
   * `WORKER_SESSION_TIMEOUT_MS`: how long the group waits for a worker that stopped answering before
   * its partitions (and the commands on them) go to the others. Default 30 s; at least 6 s (the broker's minimum).
   */
  sessionTimeoutMs: number;
  /** `WORKER_ID`: names this worker in every event's `producer` and in its logs. Default `<hostname>:<pid>`. */
  workerId: string;
  /**
   * `WORKER_SECRETS_FILE`: a JSON file `{ "<jobId>": { "<param>": <value>, … } }` holding the source
   * parameters the commands leave out (passwords, tokens, headers), merged into each job's params.
   * Read once at start; unset: no secrets.
   */
  secretsFile?: string;
  /** `LOCAL_SOURCE_ROOTS`: directories LOCAL sources may read (absolute); unset: any path this process can read. */
  localSourceRoots?: string[];
  /** `MAX_FAILED_ROW_RATIO`: share of bad rows above which a run fails (PERMANENT). Default 0.1, as the gateway's. */
  maxFailedRowRatio: number;
  /** `LOG_LEVEL`: the worker's own log (JSON lines on stdout). Default `info`. */
  logLevel: LogLevelName;
}

type Env = Record<string, string | undefined>;

const DEFAULT_HEARTBEAT_MS = 10 * SECOND;
const LEVELS: LogLevelName[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

const given = (env: Env, name: string): string | undefined => {
  const raw = env[name]?.trim();
  return raw ? raw : undefined;
};

function required(env: Env, name: string, expected: string): string {
  const raw = given(env, name);
  if (raw === undefined) throw new ConfigError(name, `${expected} (required)`, env[name] ?? '');
  return raw;
}

function int(env: Env, name: string, def: number, min: number): number {
  const raw = given(env, name);
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(name, `an integer >= ${min}`, raw);
  return n;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = given(env, name);
  if (raw === undefined) return def;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(name, 'true or false', raw);
}

function list(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function brokers(env: Env): string[] {
  const expected = 'comma-separated host:port pairs, e.g. 127.0.0.1:9092';
  const raw = required(env, 'KAFKA_BROKERS', expected);
  const out = list(raw);
  if (out.length === 0 || out.some((b) => !/^[^\s:]+:\d+$/.test(b))) throw new ConfigError('KAFKA_BROKERS', expected, raw);
  return out;
}

function databaseUrl(env: Env): string {
  const expected = 'a postgres:// URL of the destination database';
  const raw = required(env, 'WORKER_DATABASE_URL', expected);
  let protocol: string;
  try {
    protocol = new URL(raw).protocol;
  } catch {
    // The value may hold a password: never echo it.
    throw new ConfigError('WORKER_DATABASE_URL', `${expected} (the value is not a URL)`, '<hidden>');
  }
  if (protocol !== 'postgres:' && protocol !== 'postgresql:') throw new ConfigError('WORKER_DATABASE_URL', expected, `${protocol}…`);
  return raw;
}

function ratio(env: Env, name: string, def: number): number {
  const raw = given(env, name);
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new ConfigError(name, 'a number between 0 and 1', raw);
  return n;
}

function roots(env: Env): string[] | undefined {
  const raw = given(env, 'LOCAL_SOURCE_ROOTS');
  if (raw === undefined) return undefined;
  const dirs = list(raw);
  if (dirs.some((d) => !path.isAbsolute(d))) throw new ConfigError('LOCAL_SOURCE_ROOTS', 'comma-separated absolute directory paths', raw);
  return dirs;
}

function workerId(env: Env): string {
  const raw = given(env, 'WORKER_ID') ?? `${os.hostname()}:${process.pid}`;
  // It becomes every event's `producer`, which the contract caps at 500 characters.
  if (raw.length > 500) throw new ConfigError('WORKER_ID', 'at most 500 characters', `${raw.slice(0, 40)}…`);
  return raw;
}

function secretsFile(env: Env): string | undefined {
  const raw = given(env, 'WORKER_SECRETS_FILE');
  return raw === undefined ? undefined : path.resolve(raw);
}

/**
 * Reads and validates the worker's environment (main.ts passes `process.env`; tests pass their own).
 * The worker's only reader of its environment. Throws {@link ConfigError} naming the variable and
 * what it expects; a database URL is never echoed (it may hold a password).
 */
export function loadWorkerConfig(env: Env): Readonly<WorkerConfig> {
  const logLevel = (given(env, 'LOG_LEVEL') ?? 'info').toLowerCase() as LogLevelName;
  if (!LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', LEVELS.join(' | '), env.LOG_LEVEL ?? '');
  const config: WorkerConfig = {
    kafkaBrokers: brokers(env),
    topics: Object.freeze({
      runCommands: given(env, 'KAFKA_TOPIC_RUN_COMMANDS') ?? KAFKA_TOPICS.runCommands,
      runEvents: given(env, 'KAFKA_TOPIC_RUN_EVENTS') ?? KAFKA_TOPICS.runEvents,
      runLogs: given(env, 'KAFKA_TOPIC_RUN_LOGS') ?? KAFKA_TOPICS.runLogs,
    }),
    groupId: given(env, 'WORKER_GROUP_ID') ?? 'jobwire-workers',
    fromBeginning: bool(env, 'WORKER_FROM_BEGINNING', false),
    databaseUrl: databaseUrl(env),
    concurrency: int(env, 'WORKER_CONCURRENCY', 2, 1),
    heartbeatMs: int(env, 'WORKER_HEARTBEAT_MS', DEFAULT_HEARTBEAT_MS, 10),
    sessionTimeoutMs: int(env, 'WORKER_SESSION_TIMEOUT_MS', 30_000, 6000),
    workerId: workerId(env),
    secretsFile: secretsFile(env),
    localSourceRoots: roots(env),
    maxFailedRowRatio: ratio(env, 'MAX_FAILED_ROW_RATIO', 0.1),
    logLevel,
  };
  return Object.freeze(config);
}
