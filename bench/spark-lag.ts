/**
 * Status lag on the real Spark cluster (`npm run services:up`, `npm run build:spark`): how long a
 * change in Spark takes to reach a graphql-ws subscriber of the gateway.
 *
 * - A driver state change (the master's `/json/` says RUNNING, then FINISHED; the bench asks it
 *   every 20 ms on its own) → the subscriber's `runUpdated` with that status, against the poll
 *   interval + 50 ms (goal: at most that).
 * - A stage's task count change pushed by the listener (its event's `occurredAt`, stamped inside
 *   the driver) → the subscriber's `stageProgress` with that count (goal: under 1 s).
 *
 * One `examples.Sleep` application of 12 tasks × 1.5 s over 3 stages per round (`BENCH_QUICK=1`: 1 round).
 *
 *   npx ts-node --swc bench/spark-lag.ts
 */
import crypto from 'node:crypto';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { Kafka, logLevel } from 'kafkajs';
import { SparkClient } from '../src/backends/spark/spark-client';
import { loadConfig } from '../src/config';
import { createApp } from '../src/app';
import { ExecutionBackend, RunStatus, SourceType } from '../src/domain';
import { median, quantile, runStandalone, scratchDatabase, type Bench, type BenchRow } from './lib';

const REST = process.env.SPARK_MASTER_URL ?? 'http://127.0.0.1:6066';
const UI = process.env.SPARK_MASTER_UI_URL ?? 'http://127.0.0.1:8080';
const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const POLL_MS = 1000;

const bench: Bench = {
  name: 'spark-lag',
  async run(env) {
    const spark = new SparkClient({ restUrl: REST, uiUrl: UI, timeoutMs: 2000 });
    try {
      await spark.master();
    } catch (err) {
      console.log(`\nspark-lag: no Spark cluster at ${UI} (${(err as Error).message}): npm run services:up`);
      return [];
    }
    const token = crypto.randomBytes(4).toString('hex');
    const topic = `jobwire.bench.spark-lag.${token}.run-events`;
    const kafka = new Kafka({ brokers: BROKERS, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const scratch = await scratchDatabase(env, 'sparklag');
    const config = loadConfig(
      {},
      {
        port: env.port,
        host: '127.0.0.1',
        // Benchmark jobs name files that are never read: any path (LOCAL_SOURCE_ROOTS=*).
        localSourceRoots: null,
        databaseUrl: scratch.url,
        redisUrl: env.redisUrl,
        redisPrefix: env.redisPrefix,
        logLevel: 'silent',
        seedDemo: false,
        sparkMasterUrl: REST,
        sparkMasterUiUrl: UI,
        sparkPollIntervalMs: POLL_MS,
        kafkaBrokers: BROKERS,
        kafkaGroupId: `jobwire.bench.spark-lag.${token}`,
        kafkaTopicPartitions: 1,
        kafkaTopics: {
          runEvents: topic,
          runLogs: `${topic}-logs`,
          runCommands: `${topic}-commands`,
          deadLetter: `${topic}-dead`,
        },
      },
    );
    const app = await createApp(config);
    const ws = createClient({ url: `${app.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0 });
    const statusLag: number[] = [];
    const stageLag: number[] = [];
    try {
      const job = await app.jobs.create({
        name: 'spark-lag',
        backend: ExecutionBackend.SPARK,
        source: { type: SourceType.LOCAL, params: { path: '/dev/null' } },
        destination: { schema: 'public', table: 'unused' },
        processing: {
          sparkApplication: { appResource: config.sparkAppJar, mainClass: 'dev.jobwire.spark.examples.Sleep', args: ['12', '1500', '3'] },
        },
        maxAttempts: 1,
      });
      for (let round = 0; round < (env.quick ? 1 : 3); round++) {
        const run = await app.runs.start(job.id);
        const seenStatus = new Map<string, number>();
        const dispose: (() => void)[] = [];
        dispose.push(
          ws.subscribe<{ runUpdated: { status: string } }>(
            { query: `subscription($id: ID!) { runUpdated(runId: $id) { status } }`, variables: { id: run.id } },
            {
              next: (m) =>
                void (m.data && !seenStatus.has(m.data.runUpdated.status) && seenStatus.set(m.data.runUpdated.status, Date.now())),
              error: () => undefined,
              complete: () => undefined,
            },
          ),
        );
        // Stage counts as the listener stamped them: occurredAt is read back from the run's stage rows' updates.
        const pushed = await kafka.consumer({ groupId: `bench-lag-${token}-${round}` });
        await pushed.connect();
        await pushed.subscribe({ topic, fromBeginning: false });
        const stamped = new Map<string, number>();
        await pushed.run({
          eachMessage: async ({ message }) => {
            const e = JSON.parse(message.value!.toString());
            if (e.runId === run.id && e.type === 'stage.progress')
              stamped.set(`${e.payload.stage}:${e.payload.completedItems}`, Date.parse(e.occurredAt));
          },
        });
        dispose.push(
          ws.subscribe<{ stageProgress: { name: string; completedItems: number } }>(
            { query: `subscription($id: ID!) { stageProgress(runId: $id) { name completedItems } }`, variables: { id: run.id } },
            {
              next: (m) => {
                if (!m.data) return;
                const at = Date.now();
                const key = `${m.data.stageProgress.name}:${m.data.stageProgress.completedItems}`;
                // The event may be read by the bench's consumer a moment after the gateway's: look again shortly.
                setTimeout(() => {
                  const t = stamped.get(key);
                  if (t !== undefined && m.data!.stageProgress.completedItems > 0) stageLag.push(at - t);
                }, 2000);
              },
              error: () => undefined,
              complete: () => undefined,
            },
          ),
        );
        // The master's own view, asked every 20 ms: when it first says RUNNING, then FINISHED.
        const masterSaid = new Map<string, number>();
        const driverId = (await app.runs.get(run.id))!.externalId!;
        for (const deadline = Date.now() + 300_000; Date.now() < deadline && !seenStatus.has(RunStatus.SUCCEEDED);) {
          const m = await spark.master().catch(() => null);
          const d = m && [...m.activedrivers, ...m.completeddrivers].find((x) => x.id === driverId);
          if (d && !masterSaid.has(d.state)) masterSaid.set(d.state, Date.now());
          await new Promise((r) => setTimeout(r, 20));
        }
        await new Promise((r) => setTimeout(r, 2500));
        for (const [driver, status] of [
          ['RUNNING', RunStatus.RUNNING],
          ['FINISHED', RunStatus.SUCCEEDED],
        ] as const) {
          const a = masterSaid.get(driver);
          const b = seenStatus.get(status);
          if (a !== undefined && b !== undefined) statusLag.push(Math.max(0, b - a));
        }
        dispose.forEach((d) => d());
        await pushed.disconnect();
      }
    } finally {
      await ws.dispose();
      await app.stop();
      await scratch.drop();
      await admin.deleteTopics({ topics: [topic, `${topic}-logs`, `${topic}-commands`, `${topic}-dead`] }).catch(() => undefined);
      await admin.disconnect();
    }
    const rows: BenchRow[] = [];
    const budget = POLL_MS + 50;
    rows.push({
      bench: 'spark-lag',
      metric: 'driver state change → subscriber, worst (ms)',
      value: Math.max(...statusLag),
      baselineName: `poll interval + 50 ms`,
      baseline: budget,
      ratio: Math.max(...statusLag) / budget,
      goal: { op: '<=', target: 1 },
      note: `${statusLag.length} changes, median ${median(statusLag).toFixed(0)} ms (the bench sees the master every 20 ms)`,
    });
    rows.push({
      bench: 'spark-lag',
      metric: 'stage task count (listener) → subscriber, p99 (ms)',
      value: quantile(stageLag, 0.99),
      baselineName: 'budget (ms)',
      baseline: 1000,
      ratio: quantile(stageLag, 0.99) / 1000,
      goal: { op: '<=', target: 1 },
      note: `${stageLag.length} counts, median ${median(stageLag).toFixed(0)} ms (occurredAt stamped in the driver)`,
    });
    return rows;
  },
};

export default bench;
if (require.main === module) runStandalone(bench);
