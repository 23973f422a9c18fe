/**
 * The gateway the API benches measure: one `createApp` in this process on a scratch PostgreSQL
 * database of its own (migrated by the app itself), the Redis bus under the bench's prefix, HTTP and
 * WebSocket on the bench's port, workers and the demo seed off, so nothing but the bench runs in it.
 */
import 'reflect-metadata';
import { createApp, type App } from '../src/app';
import { loadConfig, type Config } from '../src/config';
import { DataFormat, ExecutionBackend, RunStatus, SourceType, type JobView, type RunView } from '../src/domain';
import { scratchDatabase, type BenchEnv } from './lib';

export interface BenchGateway {
  app: App;
  /** `ws://…/graphql` of the gateway. */
  wsUrl: string;
  /** `http://…/graphql` of the gateway. */
  httpUrl: string;
  /** Stops the gateway, then drops its database; both run even when one fails. */
  stop(): Promise<void>;
}

/**
 * Starts a gateway for a bench (label names its database, e.g. `reads`); `overrides` adds to (or
 * replaces) the configuration above, e.g. Kafka's brokers and topics. Rejects, leaving nothing
 * behind, when PostgreSQL, Redis (or Kafka, when configured) cannot be reached.
 */
export async function startBenchGateway(env: BenchEnv, label: string, overrides: Partial<Config> = {}): Promise<BenchGateway> {
  const db = await scratchDatabase(env, label);
  let app: App;
  try {
    app = await createApp(
      loadConfig(
        {},
        {
          port: env.port,
          host: '127.0.0.1',
          // Benchmark jobs name files that are never read: any path (LOCAL_SOURCE_ROOTS=*).
          localSourceRoots: null,
          databaseUrl: db.url,
          redisUrl: env.redisUrl,
          redisPrefix: env.redisPrefix,
          workers: false,
          seedDemo: false,
          migrate: true,
          logLevel: 'warn',
          // The gateway's metrics are on, as by default; BENCH_METRICS=0 measures without them (a before/after).
          metricsEnabled: process.env.BENCH_METRICS !== '0',
          ...overrides,
        },
      ),
    );
  } catch (err) {
    await db.drop().catch(() => undefined);
    throw err;
  }
  return {
    app,
    httpUrl: `${app.url}/graphql`,
    wsUrl: `${app.url.replace(/^http/, 'ws')}/graphql`,
    async stop() {
      const results = await Promise.allSettled([app.stop()]);
      await db.drop();
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}

/** A LOCAL job the benches can start runs of (its source is never read: workers are off). */
export function createBenchJob(app: App, name: string): Promise<JobView> {
  return app.jobs.create({
    name,
    backend: ExecutionBackend.LOCAL,
    source: { type: SourceType.LOCAL, params: { path: '/nonexistent/bench.csv' } },
    destination: { schema: 'bench', table: 'bench' },
    processing: { format: DataFormat.CSV },
  });
}

/**
 * A RUNNING run of `job` with `stages` stages part-way through and a first metrics sample, the
 * shape a dashboard watches.
 */
export async function createBenchRun(app: App, job: JobView, stages = 3): Promise<RunView> {
  const run = await app.runs.start(job.id);
  await app.runEvents.apply({ runId: run.id, type: 'run.status', payload: { status: RunStatus.RUNNING } });
  for (let i = 1; i <= stages; i++) {
    await app.runEvents.apply({
      runId: run.id,
      type: 'stage.progress',
      payload: { stage: `stage-${i}`, totalItems: 1000, completedItems: 100 * i, failedItems: i },
    });
  }
  await app.runEvents.apply({
    runId: run.id,
    type: 'run.metrics',
    payload: { recordsProcessed: 0, recordsFailed: 0, throughputRps: 0, bytesProcessed: 0, activeWorkers: 1 },
  });
  return (await app.runs.get(run.id))!;
}
