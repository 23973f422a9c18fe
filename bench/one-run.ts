/**
 * One busy run: stage increments arrive at 2,000 events/s (the rate a chatty worker or a Spark
 * listener reaches); the gateway applies whatever has arrived in one batch, the way the Kafka
 * consumer does, while a graphql-ws client watches `stageProgress`. Measures the rate sustained and
 * each event's latency from its arrival to the subscriber seeing its effect (the PostgreSQL commit
 * and Redis included). Goals: the rate is sustained, and p99 stays under 50 ms.
 *
 *   npx ts-node --swc bench/one-run.ts            (BENCH_QUICK=1 for a short run)
 */
import 'reflect-metadata';
import crypto from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';
import { RunStatus, RunTrigger, SourceType } from '../src/domain';
import type { CoreEvent } from '../src/runs/core-events';
import { quantile, runStandalone, scratchDatabase, type Bench } from './lib';

const RATE = 2000;
const TICK_MS = 5;

const bench: Bench = {
  name: 'one-run',
  async run(env) {
    const seconds = env.quick ? 3 : 10;
    const scratch = await scratchDatabase(env, 'onerun');
    const config = loadConfig(
      {},
      {
        databaseUrl: scratch.url,
        redisUrl: env.redisUrl,
        redisPrefix: env.redisPrefix,
        port: env.port,
        host: '127.0.0.1',
        // Benchmark jobs name files that are never read: any path (LOCAL_SOURCE_ROOTS=*).
        localSourceRoots: null,
        workers: false,
        seedDemo: false,
        logLevel: 'silent',
      },
    );
    const app = await createApp(config);
    const client = createClient({ url: `${app.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, lazy: false });
    try {
      const job = await app.jobs.create({
        name: 'busy',
        source: { type: SourceType.LOCAL, params: { path: '/bench.csv' } },
        destination: { schema: 'public', table: 'bench' },
      });
      const { run } = await app.runEvents.createRun(job.id, RunTrigger.MANUAL);
      await app.runEvents.apply({ runId: run.id, type: 'run.status', payload: { status: RunStatus.RUNNING } });
      await app.runEvents.apply({ runId: run.id, type: 'stage.progress', payload: { stage: 'work', totalItems: 1e9 } });

      const total = RATE * seconds;
      const arrival = new Float64Array(total + 1);
      const latency: number[] = [];
      let seenUpTo = 0;
      let snapshot = true;
      const done = new Promise<void>((resolve, reject) => {
        client.subscribe<{ stageProgress: { completedItems: number } }>(
          { query: `subscription ($runId: ID!) { stageProgress(runId: $runId) { name completedItems } }`, variables: { runId: run.id } },
          {
            next: (msg) => {
              const at = performance.now();
              const count = msg.data?.stageProgress.completedItems ?? 0;
              if (snapshot) {
                snapshot = false;
                ready();
                return;
              }
              for (let i = seenUpTo + 1; i <= Math.min(count, total); i++) latency.push(at - arrival[i]);
              seenUpTo = Math.max(seenUpTo, count);
              if (seenUpTo >= total) resolve();
            },
            error: reject,
            complete: () => undefined,
          },
        );
      });
      let ready!: () => void;
      await new Promise<void>((r) => (ready = r));

      // Events arrive at RATE; each pass applies everything that arrived, as one batch.
      let produced = 0;
      let inFlight = false;
      const started = performance.now();
      let applied = 0;
      await new Promise<void>((resolve, reject) => {
        const timer = setInterval(() => {
          const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * RATE));
          for (; produced < due;) arrival[++produced] = performance.now();
          if (inFlight || applied >= produced) {
            if (applied >= total) {
              clearInterval(timer);
              resolve();
            }
            return;
          }
          inFlight = true;
          const from = applied;
          const to = produced;
          const events: CoreEvent[] = [];
          for (let i = from; i < to; i++) {
            events.push({ eventId: crypto.randomUUID(), runId: run.id, type: 'stage.progress', payload: { stage: 'work', increment: 1 } });
          }
          app.runEvents.applyBatch(events).then(
            () => {
              applied = to;
              inFlight = false;
            },
            (err) => {
              clearInterval(timer);
              reject(err);
            },
          );
        }, TICK_MS);
      });
      const elapsed = (performance.now() - started) / 1000;
      await Promise.race([done, new Promise((r) => setTimeout(r, 10_000))]);
      const rate = total / elapsed;
      const p99 = quantile(latency, 0.99);
      const note = `${total} events in ${elapsed.toFixed(1)} s; p50 ${quantile(latency, 0.5).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, ${latency.length} seen`;
      return [
        {
          bench: 'one-run',
          metric: 'stage increments applied (events/s)',
          value: rate,
          baselineName: 'arrival rate (events/s)',
          baseline: RATE,
          ratio: rate / RATE,
          goal: { op: '>=', target: 0.98 },
          note,
        },
        {
          bench: 'one-run',
          metric: 'arrival → subscriber p99 (ms)',
          value: p99,
          baselineName: 'budget (ms)',
          baseline: 50,
          ratio: p99 / 50,
          goal: { op: '<=', target: 1 },
          note: 'PostgreSQL commit and Redis included',
        },
      ];
    } finally {
      await client.dispose();
      await app.stop();
      await scratch.drop();
    }
  },
};

export default bench;
if (require.main === module) runStandalone(bench);
