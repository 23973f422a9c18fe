/**
 * The composition root: the only module that constructs the database, the event bus, services,
 * the GraphQL schema, the HTTP + WebSocket server and the workers, and wires them together.
 * Everything else receives what it needs from here.
 */
import crypto from 'node:crypto';
import os from 'node:os';
import type { GraphQLSchema } from 'graphql';
import type { IngestApi } from './api';
import type { Config } from './config';
import { migrate, openPglite, openPostgres, type Database } from './db/orm';
import { coerceError } from './errors';
import { makeMemoryBus, makeRedisBus, type EventBus } from './events/bus';
import type { RunEventsService } from './runs/run-events.service';
import { buildCore, type Core } from './core';
import type { RunsService } from './runs/runs.service';
import type { JobsService } from './jobs/jobs.service';
import { makeLogger, throttled, type Logger } from './logger';
import { makePgSink, makePgliteSink, type LoadSink, type PgSinkOptions } from './backends/local/ingest';
import { buildJobwireSchema } from './graphql/schema';
import { makeContextFactory } from './graphql/context';
import { makeAuthenticator } from './auth/authenticator';
import { startServer } from './server/server';
import { makeReadiness } from './server/readiness';
import { seedDemo } from './seed';
import { makeWorkers } from '../workers';
import { schemaParts } from '../resolvers';
import { LiveService } from './live/live.service';
import { ensureTopics, openKafka } from './kafka/kafka-client';
import { IngestStatusTracker } from './kafka/ingest-status';
import { makeIngestApi } from './kafka/ingest-api';
import { SparkClient } from './backends/spark/spark-client';
import { prepareSourceAccess } from './jobs/source-access';
import { makeMetrics, type Metrics } from './metrics/metrics';
import { registerScrapeGauges } from './metrics/scrape-gauges';
import { metricsHandler } from './server/metrics-route';

export interface App {
  config: Readonly<Config>;
  logger: Logger;
  /** Base URL of the HTTP server, e.g. `http://127.0.0.1:4000`. */
  url: string;
  port: number;
  instanceId: string;
  db: Database;
  bus: EventBus;
  schema: GraphQLSchema;
  runEvents: RunEventsService;
  jobs: JobsService;
  runs: RunsService;
  live: LiveService;
  /** Dead letters and the Kafka consumer group's status, as the API serves them. */
  ingest: IngestApi;
  /** Every service of the core. */
  core: Core;
  /** The Kafka consumer's state (null without Kafka). */
  ingestStatus: IngestStatusTracker | null;
  /** What `GET /metrics` serves (null with METRICS_ENABLED=false). */
  metrics: Metrics | null;
  /** Stops everything in order: traffic, workers, bus, database. Idempotent. */
  stop(): Promise<void>;
}

/** Says at start who may call: the embedded default's local admin and JOBWIRE_AUTH=off are worth a line of their own. */
function logAuthMode(config: Readonly<Config>, logger: Logger): void {
  const { auth } = config;
  if (auth.mode === 'local') {
    logger.info(
      { auth: 'local', host: config.host },
      `no credentials configured: listening on ${config.host} only, and every caller is the admin "local" ` +
        '(set JWT_SECRET, JWT_JWKS_URL or API_TOKENS_FILE to require credentials)',
    );
  } else if (auth.mode === 'off') {
    const ignored = auth.jwt || auth.apiTokens.length ? ' (the configured credentials are ignored)' : '';
    logger.warn(
      { auth: 'off', host: config.host },
      `JOBWIRE_AUTH=off: every caller, from anywhere it can reach ${config.host}, is an admin${ignored}`,
    );
  } else {
    const via = [
      auth.jwt?.secret && 'JWT (HS256)',
      auth.jwt?.jwksUrl && `JWT (key set ${auth.jwt.jwksUrl})`,
      auth.apiTokens.length && `${auth.apiTokens.length} API token(s)`,
    ];
    logger.info({ auth: 'credentials', roleClaim: auth.jwt?.roleClaim }, `credentials required: ${via.filter(Boolean).join(', ')}`);
  }
}

/**
 * Builds and starts a gateway. Throws (after cleaning up what it started) when the database or
 * Redis cannot be reached or migrations fail.
 */
export async function createApp(config: Readonly<Config>, opts: { logger?: Logger } = {}): Promise<App> {
  const logger = opts.logger ?? makeLogger(config.logLevel);
  const instanceId = `${os.hostname()}:${process.pid}:${crypto.randomBytes(3).toString('hex')}`;
  const cleanups: { name: string; fn: () => Promise<unknown> }[] = [];
  const stopAll = async () => {
    // Reverse order of construction; every step runs even when one fails.
    for (const { name, fn } of cleanups.splice(0).reverse()) {
      await fn().catch((err) => logger.error({ err: coerceError(err), step: name }, 'shutdown step failed'));
    }
  };
  try {
    prepareSourceAccess(config, logger);
    const dbLog = logger.child({ component: 'database' });
    const reportPoolError = throttled(10_000, (suppressed, err: Error, pool: string) =>
      dbLog.warn(
        { err, pool, failuresSinceLastReport: suppressed },
        `PostgreSQL connection lost (${pool} pool): ${err.message}; reconnecting when next needed`,
      ),
    );
    const db = config.databaseUrl
      ? await openPostgres(config.databaseUrl, { onPoolError: reportPoolError })
      : await openPglite(config.dataDir);
    cleanups.push({ name: 'database', fn: () => db.close() });
    logger.info({ database: db.kind === 'postgres' ? 'postgresql' : `pglite (${config.dataDir})` }, 'database open');
    if (config.migrate) {
      const applied = await migrate(db.orm);
      if (applied.length) logger.info({ applied }, 'migrations applied');
    }

    const busLog = logger.child({ component: 'event-bus' });
    const bus = config.redisUrl
      ? await makeRedisBus(config.redisUrl, config.redisPrefix, {
          onError: (err, connection) => busLog.error({ err, connection }, `Redis connection error (retrying): ${err.message}`),
          onResync: (reason, since) =>
            busLog.info({ reason, since: since.toISOString() }, `event bus back: ${reason}; live subscriptions re-read their state`),
          onResyncError: (err) => busLog.warn({ err }, `a live subscription could not re-read its state: ${err.message}`),
        })
      : makeMemoryBus(config.redisPrefix);
    cleanups.push({ name: 'event bus', fn: () => bus.close() });
    const metrics = config.metricsEnabled ? makeMetrics({ publishedAt: (event) => bus.publishedAt(event) }) : null;

    const kafka = config.kafkaBrokers ? await openKafka(config, logger, `jobwire-${instanceId}`) : null;
    if (kafka) {
      cleanups.push({ name: 'kafka', fn: () => kafka.close() });
      await ensureTopics(kafka.admin, Object.values(config.kafkaTopics), config.kafkaTopicPartitions, logger);
    }

    const spark =
      config.sparkMasterUrl && config.sparkMasterUiUrl
        ? new SparkClient({ restUrl: config.sparkMasterUrl, uiUrl: config.sparkMasterUiUrl })
        : undefined;
    const core = buildCore({ db, bus, config, logger, kafka: kafka ?? undefined, spark, instanceId, metrics: metrics ?? undefined });
    const ingestStatus = kafka
      ? new IngestStatusTracker({
          admin: kafka.admin,
          groupId: config.kafkaGroupId,
          topics: [config.kafkaTopics.runEvents, config.kafkaTopics.runLogs],
          pendingDeadLetters: () => core.deadLetters.pendingCount(),
          bus,
          instanceId,
          logger: logger.child({ component: 'ingest-status' }),
        })
      : null;
    if (ingestStatus) {
      await ingestStatus.start();
      cleanups.push({ name: 'ingest status', fn: async () => ingestStatus.close() });
    }
    const ingest = makeIngestApi({ deadLetters: core.deadLetters, status: ingestStatus });
    const { runEvents, jobs, runs } = core;
    if (metrics) {
      registerScrapeGauges(metrics.registry, {
        runCounts: () => runs.countByStatusAndBackend(),
        ingest: ingestStatus ? () => ingestStatus.snapshot() : undefined,
        logger,
      });
    }

    // On PostgreSQL a load commits in one transaction with its executor's lease check (the fence);
    // PGlite is one process's database, where no other gateway can take a run over.
    const makeSink = (opts?: PgSinkOptions): LoadSink => (db.kind === 'postgres' ? makePgSink(db.pool!, opts) : makePgliteSink(db.pglite!));
    const live = new LiveService({ jobs, runs, bus, logger, ingest: ingestStatus ?? undefined });
    cleanups.push({ name: 'live streams', fn: () => live.close() });
    const workers = makeWorkers({
      ...core,
      // The LOCAL executor's own events (progress, logs, leases) count as `local`.
      runEvents: runEvents.withSource('local'),
      retention: runEvents,
      kafkaConsumer:
        kafka && core.ingest && ingestStatus
          ? { kafka: kafka.kafka, producer: kafka.producer, ingest: core.ingest, progress: ingestStatus, config, logger }
          : undefined,
      live,
      config,
      logger,
      instanceId,
      makeSink,
      metrics: metrics ?? undefined,
    });

    const schema = await buildJobwireSchema(schemaParts);
    logAuthMode(config, logger);
    const server = await startServer({
      schema,
      contextFactory: makeContextFactory({ jobs, runs, ingest, live, logger }),
      authenticator: makeAuthenticator(config.auth),
      config,
      logger: logger.child({ component: 'server' }),
      readiness: makeReadiness({
        database: () => db.orm.em.fork().getConnection().execute('select 1'),
        // The in-process bus cannot fail; Redis can (both of its connections must be up).
        redis: config.redisUrl ? () => bus.ping() : undefined,
        // The consumer and the poller only run where the workers do.
        kafka: ingestStatus && config.workers ? () => ingestStatus.readiness() : undefined,
        spark: core.sparkPoll && config.workers ? () => core.sparkPoll!.readiness() : undefined,
      }),
      metrics: metrics
        ? {
            ...metrics,
            scrape: metricsHandler(metrics.registry, logger),
            public: config.metricsPublic || config.auth.mode !== 'credentials',
          }
        : undefined,
    });
    // Traffic stops before the workers, the workers before the bus and the database.
    cleanups.push({ name: 'workers', fn: () => workers.stop() });
    cleanups.push({ name: 'server', fn: () => server.stop() });

    if (config.seedDemo) await seedDemo({ jobs, logger }).catch((err) => logger.warn({ err: coerceError(err) }, 'demo job not created'));
    if (config.workers) await workers.start();

    logger.info(
      { url: server.url, graphiql: `${server.url}/graphiql`, instanceId, bus: config.redisUrl ? 'redis' : 'in-process' },
      'jobwire ready',
    );
    let stopping: Promise<void> | undefined;
    return {
      config,
      logger,
      url: server.url,
      port: server.port,
      instanceId,
      db,
      bus,
      schema,
      runEvents,
      jobs,
      runs,
      live,
      ingest,
      core,
      ingestStatus,
      metrics,
      stop: () => (stopping ??= stopAll()),
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
