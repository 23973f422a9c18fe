/**
 * The embedded default under load: PGlite is one session shared by the whole gateway, so a LOCAL
 * load must not hold it while the API waits. A gateway on PGlite (in-process bus, its own data
 * dir), the paced demo job (5,000 rows at 400 rows/s); new graphql-ws clients connect and subscribe
 * to `runUpdated` over and over, first while nothing runs (the baseline), then while the demo job
 * loads. Measures connect + first message. Goal: p99 while loading under 500 ms.
 *
 *   npx ts-node --swc bench/embedded.ts            (BENCH_QUICK=1 for a short run)
 */
import 'reflect-metadata';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createApp, type App } from '../src/app';
import { loadConfig } from '../src/config';
import { RunStatus } from '../src/domain';
import { DEMO_JOB_NAME } from '../src/seed';
import { quantile, runStandalone, type Bench } from './lib';

/** Connects a new client, subscribes to `runUpdated(runId)`, and returns the ms to its first message. */
async function firstMessage(app: App, runId: string): Promise<number> {
  const t0 = performance.now();
  const client = createClient({
    url: `${app.url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const stop = client.subscribe(
        { query: 'subscription ($id: ID) { runUpdated(runId: $id) { id status progress } }', variables: { id: runId } },
        { next: () => (stop(), resolve()), error: reject, complete: () => undefined },
      );
    });
    return performance.now() - t0;
  } finally {
    await client.dispose();
  }
}

const bench: Bench = {
  name: 'embedded',
  async run(env) {
    const samples = env.quick ? 15 : 40;
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-bench-embedded-'));
    const app = await createApp(loadConfig({}, { port: env.port, host: '127.0.0.1', dataDir, logLevel: 'silent' }));
    try {
      const demo = (await app.jobs.list({ search: 'demo' }, { first: 5 })).edges.find((e) => e.node.name === DEMO_JOB_NAME)!.node;
      const first = await app.runs.start(demo.id);
      // The baseline: a finished run, nothing loading.
      const idle: number[] = [];
      for (let i = 0; i < samples; i++) idle.push(await firstMessage(app, first.id));
      const started = await app.runs.start(demo.id);
      const loaded = async () => (await app.runs.stages(started.id)).find((s) => s.name === 'load')?.completedItems ?? 0;
      while ((await loaded()) === 0) await new Promise((r) => setTimeout(r, 20));
      const busy: number[] = [];
      while (busy.length < samples && (await app.runs.get(started.id))!.status === RunStatus.RUNNING)
        busy.push(await firstMessage(app, started.id));
      const p99 = quantile(busy, 0.99);
      return [
        {
          bench: 'embedded',
          metric: 'PGlite: connect + first message while the demo job loads, p99 (ms)',
          value: p99,
          baselineName: 'the same with nothing loading, p99 (ms)',
          baseline: quantile(idle, 0.99),
          ratio: p99 / 500,
          goal: { op: '<=', target: 1 },
          note: `ratio against a 500 ms budget; ${busy.length} samples while loading, p50 ${quantile(busy, 0.5).toFixed(0)} ms`,
        },
      ];
    } finally {
      await app.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  },
};

export default bench;
if (require.main === module) runStandalone(bench);
