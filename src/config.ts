import fs from 'node:fs';
import path from 'node:path';
import { parseApiTokens, type ApiToken } from './auth/api-tokens';
import type { JwtSettings } from './auth/jwt-verifier';
import { KAFKA_TOPICS } from './events/run-event.schema';
import { parseCidr } from './net/address-policy';
import { packageRoot } from './paths';

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export type LogLevelName = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** The gateway's whole configuration. Built once by {@link loadConfig}, frozen, then passed down. */
export interface Config {
  /** HTTP + WebSocket port. Default 4000. */
  port: number;
  /**
   * Interface to bind. Default `127.0.0.1` when no credentials are configured (the embedded
   * default: only this machine can call, as admin), `0.0.0.0` when they are (or JOBWIRE_AUTH=off).
   * A non-loopback interface without credentials is refused unless JOBWIRE_AUTH=off.
   */
  host: string;
  /** Who may call, and how they prove it (src/auth). */
  auth: AuthConfig;
  /** PostgreSQL connection string; unset means the embedded PGlite database in {@link dataDir}. */
  databaseUrl?: string;
  /** Where the embedded database and local state live. Default `./.jobwire`. */
  dataDir: string;
  /** Redis for pub/sub fan-out; unset means the in-process bus (one gateway only). */
  redisUrl?: string;
  /** Prefix of every Redis channel, so several deployments (or test files) can share one Redis. Default `jobwire:`. */
  redisPrefix: string;
  /** Kafka brokers; unset means Kafka is off. */
  kafkaBrokers?: string[];
  /** The consumer group every gateway replica shares. Default `jobwire`. */
  kafkaGroupId: string;
  /** Topic names (docs/events.md); defaults `jobwire.run-events`, `jobwire.run-logs`, `jobwire.run-commands`, `jobwire.dead-letter`. */
  kafkaTopics: { runEvents: string; runLogs: string; runCommands: string; deadLetter: string };
  /**
   * Partitions of each of those topics that the gateway creates at start when it is missing (0: create
   * none, e.g. where topics are provisioned by a platform team). Default 6.
   */
  kafkaTopicPartitions: number;
  /** Spark standalone REST submission URL; unset means the SPARK backend is unavailable. */
  sparkMasterUrl?: string;
  /** The master's web UI (`/json/`): the whole cluster in one request. Default: the REST URL's host, port 8080. */
  sparkMasterUiUrl?: string;
  /** jobwire's Spark application (built-in ingestion and listener). Default `dist/spark/jobwire-spark.jar` (`npm run build:spark`). */
  sparkAppJar: string;
  sparkPollIntervalMs: number;
  sparkMaxConcurrentPolls: number;
  /** LOCAL runs executing at once in this gateway. Default 2. */
  localConcurrency: number;
  /** Default automatic attempts per run (a job may override it). Default 3. */
  retryMaxAttempts: number;
  /** First retry delay for jobs without a schedule (`schedule.retryDelaySeconds` wins). Default 30 s. */
  retryBaseDelayMs: number;
  /** Upper bound of any retry delay. Default 1 h. */
  retryMaxDelayMs: number;
  /** How often the stuck-run monitor looks for runs past their liveness deadline. Default 60 s. */
  stuckCheckIntervalMs: number;
  /** A run of a heartbeat or engine-poll backend (KAFKA, SPARK) without a sign of life this long is stuck. Default 5 min. */
  stuckThresholdMs: number;
  /** A RUNNING run whose counters do not move this long is stalled, for jobs that set no `stallTimeoutSeconds`. Default 5 min. */
  stallThresholdMs: number;
  /** How often the scheduler looks for due cron runs, due retries and runs that just stalled. Default 1 s. */
  schedulerIntervalMs: number;
  /** A LOCAL run whose executor lease is older than this is orphaned (its gateway died). Default 30 s. */
  localLeaseMs: number;
  /**
   * Directories LOCAL sources (jobs, connection tests, the executor at run time) may read, absolute;
   * `..` and symbolic links are resolved before the check, and every file is checked again when it
   * is opened. `LOCAL_SOURCE_ROOTS=*` gives null: any path the gateway process can read. Default:
   * the shipped samples ({@link packageRoot}`/samples`) and {@link dataDir}`/data` (created at start).
   */
  localSourceRoots: string[] | null;
  /**
   * Networks (CIDRs) HTTP, POSTGRES and KAFKA sources may reach although they are loopback,
   * link-local, private, carrier-grade NAT, unique-local, multicast or unspecified addresses (all
   * refused by default; public addresses are always allowed). `*` allows every address, unix
   * sockets included. Checked on the resolved address of every connection and every redirect.
   * Default none.
   */
  sourceAllowedNetworks: string[];
  /** Log lines and metric samples of runs finished longer ago than this are deleted. Default 30 days; 0 keeps them forever. */
  logRetentionMs: number;
  /** Share of failed rows above which a LOCAL run fails. Default 0.1 (10 %). */
  maxFailedRowRatio: number;
  /** Create the demo job on an empty database. Default: on for the embedded default, off otherwise. */
  seedDemo: boolean;
  /** Run migrations at start. Default true. */
  migrate: boolean;
  /** Start background workers (executor, scheduler, stuck monitor). Default true. */
  workers: boolean;
  logLevel: LogLevelName;
  /**
   * Browser origins (scheme://host[:port]) whose pages may open the GraphQL WebSocket besides the
   * gateway's own; `*` allows any. Clients that send no Origin (not browsers) are not affected.
   * Default none: only pages served by the gateway itself (GraphiQL).
   */
  corsOrigins: string[];
  /** Largest WebSocket frame (bytes) a client may send; a bigger one closes its socket (1009) before it is buffered. Default 1 MiB. */
  wsMaxPayloadBytes: number;
  /** How long a WebSocket client has to send `connection_init` before its socket is closed with 4408. Default 3 s. */
  wsConnectionInitTimeoutMs: number;
  /**
   * Pending connections the kernel queues for the HTTP + WebSocket listener (node's default is
   * 511); the kernel caps it at `net.core.somaxconn`. Default 4096.
   */
  httpBacklog: number;
  /** Serve Prometheus metrics at `GET /metrics` (src/metrics). Default true. */
  metricsEnabled: boolean;
  /**
   * Let anyone who reaches the port scrape `/metrics` although credentials are configured (a
   * scraper without a token, on a network you trust). Default false: a scrape then needs a
   * credential of any role. Without credentials (the embedded default, JOBWIRE_AUTH=off) it is open either way.
   */
  metricsPublic: boolean;
  /** Query limits, applied to HTTP and WebSocket operations alike. */
  limits: QueryLimitsConfig;
}

/** What one GraphQL operation may ask for, on HTTP and WebSocket alike (src/graphql/limits.ts). */
export interface QueryLimitsConfig {
  /** Field nesting (`{ jobs { edges { node { id } } } }` is 4), introspection aside. Default 10. */
  maxDepth: number;
  /** Cost in the complexity model: a point per field, a connection × its `first`, costly fields more (src/graphql/costs.ts). Default 20000. */
  maxComplexity: number;
  /** Query text in bytes, refused before it is parsed. Default 20000. */
  maxQueryBytes: number;
  /** Largest `first` of a connection. Default 1000. */
  maxPageSize: number;
  /** Aliased fields in one operation, counted wherever its fragments put them. Default 15. */
  maxAliases: number;
  /** Root fields (response keys) of one mutation operation: each is its own transaction. Default 5. */
  maxRootMutations: number;
  /**
   * Introspection (`__schema`, `__type`) and the "Did you mean …?" hints of error messages.
   * Default: on for the embedded default (no `DATABASE_URL`, so GraphiQL works), off otherwise.
   */
  introspection: boolean;
}

/**
 * How callers are authenticated:
 * - `credentials`: every request carries a JWT (JWT_SECRET or JWT_JWKS_URL) or an API token
 *   (API_TOKENS_FILE) as `Authorization: Bearer …` (WebSocket: `connectionParams`); roles come
 *   with them;
 * - `local`: nothing is configured; the gateway listens on loopback only and every caller is the
 *   admin `local` (the embedded default);
 * - `off`: JOBWIRE_AUTH=off; every caller, from anywhere, is the admin `anonymous`.
 */
export type AuthMode = 'credentials' | 'local' | 'off';

export interface AuthConfig {
  mode: AuthMode;
  /** JWT verification; absent when neither JWT_SECRET nor JWT_JWKS_URL is set. */
  jwt?: JwtSettings;
  /** The tokens of API_TOKENS_FILE (hashes only), read and checked at start. */
  apiTokens: readonly ApiToken[];
  /** API_TOKENS_FILE as given, resolved. */
  apiTokensFile?: string;
}

export class ConfigError extends Error {
  /** `ConfigError(variable, expected, got)`: "Invalid configuration: NAME="got"; expected …". `ConfigError(message)`: that message. */
  constructor(variableOrMessage: string, expected?: string, got?: string) {
    super(
      expected === undefined
        ? `Invalid configuration: ${variableOrMessage}`
        : `Invalid configuration: ${variableOrMessage}=${JSON.stringify(got)}; expected ${expected}.`,
    );
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, def: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(name, `an integer >= ${min}`, raw);
  return n;
}

function ratio(env: Env, name: string, def: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new ConfigError(name, 'a number between 0 and 1', raw);
  return n;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(name, 'true or false', raw);
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, `a URL (${protocols.join(', ')})`, raw);
  }
  if (!protocols.includes(parsed.protocol.replace(/:$/, ''))) {
    throw new ConfigError(name, `a URL with scheme ${protocols.join(' or ')}`, raw);
  }
  return raw;
}

function roots(env: Env, name: string, def: string[]): string[] | null {
  const raw = env[name]?.trim();
  if (!raw) return def;
  if (raw === '*') return null;
  const dirs = raw
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean);
  if (dirs.some((d) => !path.isAbsolute(d))) throw new ConfigError(name, 'comma-separated absolute directory paths, or *', raw);
  return dirs;
}

function networks(env: Env, name: string): string[] {
  const raw = env[name]?.trim();
  if (!raw) return [];
  const list = raw
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  for (const c of list) {
    if (c === '*') continue;
    try {
      parseCidr(c);
    } catch {
      throw new ConfigError(name, 'comma-separated CIDRs like 10.1.0.0/16, fd00::/8 or 192.168.1.20 (or * for every address)', raw);
    }
  }
  return list;
}

function origins(env: Env, name: string): string[] {
  const raw = env[name]?.trim();
  if (!raw) return [];
  const list = raw
    .split(',')
    .map((o) => o.trim().replace(/\/+$/, ''))
    .filter(Boolean);
  if (list.some((o) => o !== '*' && !/^https?:\/\/[^\s/]+$/.test(o)))
    throw new ConfigError(name, 'comma-separated origins like https://dash.example.com, or *', raw);
  return list;
}

/** The master's web UI next to its REST server: same host, port 8080 (Spark's default). */
function defaultSparkUi(rest: string | undefined): string | undefined {
  if (!rest) return undefined;
  try {
    const u = new URL(rest.replace(/^spark:/, 'http:'));
    return `${u.protocol === 'https:' ? 'https' : 'http'}://${u.hostname}:8080`;
  } catch {
    return undefined;
  }
}

/** True for an interface only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127(\.\d{1,3}){3}$/.test(h);
}

/** Reads and checks API_TOKENS_FILE: unreadable, empty or with a bad line, the gateway does not start. */
function apiTokensFrom(file: string): ApiToken[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`API_TOKENS_FILE ${file} cannot be read (${(err as Error).message}).`);
  }
  let tokens: ApiToken[];
  try {
    tokens = parseApiTokens(text);
  } catch (err) {
    throw new ConfigError(`API_TOKENS_FILE ${file}: ${(err as Error).message}. Each line is role:sha256-hex-of-token[:name].`);
  }
  if (tokens.length === 0) throw new ConfigError(`API_TOKENS_FILE ${file} lists no token (each line: role:sha256-hex-of-token[:name]).`);
  return tokens;
}

/** JWT_*, API_TOKENS_FILE and JOBWIRE_AUTH, checked together (see {@link AuthMode}). */
function authFrom(env: Env): AuthConfig {
  const secret = env.JWT_SECRET || undefined;
  const jwksUrl = url(env, 'JWT_JWKS_URL', ['http', 'https']);
  const issuer = env.JWT_ISSUER?.trim() || undefined;
  const audience = env.JWT_AUDIENCE?.split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  if (secret && jwksUrl) throw new ConfigError('set JWT_SECRET (HS256) or JWT_JWKS_URL (a key set), not both.');
  if (secret && secret.length < 32) {
    throw new ConfigError(`JWT_SECRET is ${secret.length} characters long; it needs at least 32 (e.g. \`openssl rand -hex 32\`).`);
  }
  if (jwksUrl && (!issuer || !audience?.length)) {
    throw new ConfigError('JWT_JWKS_URL needs JWT_ISSUER and JWT_AUDIENCE: a key set signs tokens for many issuers and audiences.');
  }
  if (!secret && !jwksUrl && (issuer || audience?.length || env.JWT_ROLE_CLAIM)) {
    throw new ConfigError('JWT_ISSUER, JWT_AUDIENCE and JWT_ROLE_CLAIM need JWT_SECRET or JWT_JWKS_URL.');
  }
  const jwt: JwtSettings | undefined =
    secret || jwksUrl
      ? { secret, jwksUrl, issuer, audience: audience?.length ? audience : undefined, roleClaim: env.JWT_ROLE_CLAIM?.trim() || 'role' }
      : undefined;
  const apiTokensFile = env.API_TOKENS_FILE ? path.resolve(env.API_TOKENS_FILE) : undefined;
  const apiTokens = apiTokensFile ? apiTokensFrom(apiTokensFile) : [];
  const switchRaw = env.JOBWIRE_AUTH?.trim() ?? '';
  const off = /^(0|false|no|off)$/i.test(switchRaw);
  if (switchRaw && !off && !/^(1|true|yes|on)$/i.test(switchRaw)) throw new ConfigError('JOBWIRE_AUTH', 'on or off', switchRaw);
  const hasCredentials = jwt !== undefined || apiTokens.length > 0;
  if (switchRaw && !off && !hasCredentials) {
    throw new ConfigError('JOBWIRE_AUTH=on needs credentials: set JWT_SECRET, JWT_JWKS_URL or API_TOKENS_FILE.');
  }
  const mode: AuthMode = off ? 'off' : hasCredentials ? 'credentials' : 'local';
  return { mode, jwt, apiTokens: Object.freeze(apiTokens), apiTokensFile };
}

const LEVELS: LogLevelName[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Reads and validates the environment. The gateway's only reader of `process.env` (the shipped worker has its own: workers/kafka-worker/config.ts). Throws {@link ConfigError}. */
export function loadConfig(env: Env = process.env, overrides: Partial<Config> = {}): Readonly<Config> {
  const databaseUrl = url(env, 'DATABASE_URL', ['postgres', 'postgresql']);
  const logLevel = (env.LOG_LEVEL || 'info').toLowerCase() as LogLevelName;
  if (!LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', LEVELS.join(' | '), env.LOG_LEVEL ?? '');
  const kafka = env.KAFKA_BROKERS?.trim();
  const kafkaBrokers = kafka
    ? kafka
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean)
    : undefined;
  if (kafkaBrokers?.some((b) => !/^[^\s:]+:\d+$/.test(b))) {
    throw new ConfigError('KAFKA_BROKERS', 'comma-separated host:port pairs', kafka!);
  }
  const dataDir = overrides.dataDir ?? path.resolve(env.JOBWIRE_DATA_DIR || './.jobwire');
  const auth = authFrom(env);
  const config: Config = {
    port: int(env, 'PORT', 4000, 0),
    host: env.HOST || (auth.mode === 'local' ? '127.0.0.1' : '0.0.0.0'),
    auth,
    databaseUrl,
    dataDir,
    redisUrl: url(env, 'REDIS_URL', ['redis', 'rediss']),
    redisPrefix: env.REDIS_PREFIX || 'jobwire:',
    kafkaBrokers,
    kafkaGroupId: env.KAFKA_GROUP_ID || 'jobwire',
    kafkaTopics: {
      runEvents: env.KAFKA_TOPIC_RUN_EVENTS || KAFKA_TOPICS.runEvents,
      runLogs: env.KAFKA_TOPIC_RUN_LOGS || KAFKA_TOPICS.runLogs,
      runCommands: env.KAFKA_TOPIC_RUN_COMMANDS || KAFKA_TOPICS.runCommands,
      deadLetter: env.KAFKA_TOPIC_DEAD_LETTER || KAFKA_TOPICS.deadLetter,
    },
    kafkaTopicPartitions: int(env, 'KAFKA_TOPIC_PARTITIONS', 6, 0),
    sparkMasterUrl: url(env, 'SPARK_MASTER_URL', ['http', 'https', 'spark']),
    sparkMasterUiUrl: url(env, 'SPARK_MASTER_UI_URL', ['http', 'https']) ?? defaultSparkUi(env.SPARK_MASTER_URL),
    sparkAppJar: path.resolve(env.SPARK_APP_JAR || path.join(packageRoot(), 'dist', 'spark', 'jobwire-spark.jar')),
    sparkPollIntervalMs: int(env, 'SPARK_POLL_INTERVAL_MS', 5 * SECOND, 100),
    sparkMaxConcurrentPolls: int(env, 'SPARK_MAX_CONCURRENT_POLLS', 5, 1),
    localConcurrency: int(env, 'LOCAL_CONCURRENCY', 2, 1),
    retryMaxAttempts: int(env, 'RETRY_MAX_ATTEMPTS', 3, 1),
    retryBaseDelayMs: int(env, 'RETRY_BASE_DELAY_MS', 30 * SECOND, 0),
    retryMaxDelayMs: int(env, 'RETRY_MAX_DELAY_MS', HOUR, 0),
    stuckCheckIntervalMs: int(env, 'STUCK_CHECK_INTERVAL_MS', MINUTE, 10),
    stuckThresholdMs: int(env, 'STUCK_THRESHOLD_MS', 5 * MINUTE, 10),
    stallThresholdMs: int(env, 'STALL_THRESHOLD_MS', 5 * MINUTE, 1000),
    schedulerIntervalMs: int(env, 'SCHEDULER_INTERVAL_MS', SECOND, 10),
    localLeaseMs: int(env, 'LOCAL_LEASE_MS', 30 * SECOND, 100),
    maxFailedRowRatio: ratio(env, 'MAX_FAILED_ROW_RATIO', 0.1),
    logRetentionMs: int(env, 'LOG_RETENTION_DAYS', 30, 0) * DAY,
    localSourceRoots: roots(env, 'LOCAL_SOURCE_ROOTS', [path.join(packageRoot(), 'samples'), path.join(dataDir, 'data')]),
    sourceAllowedNetworks: networks(env, 'SOURCE_ALLOWED_NETWORKS'),
    seedDemo: bool(env, 'JOBWIRE_SEED_DEMO', !databaseUrl),
    migrate: bool(env, 'JOBWIRE_MIGRATE', true),
    workers: bool(env, 'JOBWIRE_WORKERS', true),
    logLevel,
    wsMaxPayloadBytes: int(env, 'WS_MAX_PAYLOAD_BYTES', 1 << 20, 1024),
    corsOrigins: origins(env, 'CORS_ORIGINS'),
    wsConnectionInitTimeoutMs: int(env, 'WS_CONNECTION_INIT_TIMEOUT_MS', 3 * SECOND, 100),
    httpBacklog: int(env, 'HTTP_BACKLOG', 4096, 1),
    metricsEnabled: bool(env, 'METRICS_ENABLED', true),
    metricsPublic: bool(env, 'METRICS_PUBLIC', false),
    limits: {
      maxDepth: int(env, 'GRAPHQL_MAX_DEPTH', 10, 1),
      maxComplexity: int(env, 'GRAPHQL_MAX_COMPLEXITY', 20_000, 1),
      maxQueryBytes: int(env, 'GRAPHQL_MAX_QUERY_BYTES', 20_000, 100),
      maxPageSize: int(env, 'GRAPHQL_MAX_PAGE_SIZE', 1000, 1),
      maxAliases: int(env, 'GRAPHQL_MAX_ALIASES', 15, 0),
      maxRootMutations: int(env, 'GRAPHQL_MAX_ROOT_MUTATIONS', 5, 1),
      introspection: bool(env, 'GRAPHQL_INTROSPECTION', !databaseUrl),
    },
    ...overrides,
  };
  if (config.auth.mode === 'local' && !isLoopbackHost(config.host)) {
    throw new ConfigError(
      `HOST=${config.host} accepts calls from other machines, but no credentials are configured, so anyone could run every ` +
        'mutation. Set JWT_SECRET, JWT_JWKS_URL (with JWT_ISSUER and JWT_AUDIENCE) or API_TOKENS_FILE, or JOBWIRE_AUTH=off ' +
        'to let every caller in as admin (behind a proxy that authenticates), or bind HOST=127.0.0.1.',
    );
  }
  return Object.freeze(config);
}
