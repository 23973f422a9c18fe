/**
 * The SPARK poller's cost per cycle with 1,000 and 10,000 active SPARK runs, against a recorded
 * master answer (a small HTTP server replays the shape of a real `GET /json/`, with one RUNNING
 * driver per run on one worker, and that worker's driver logs, empty). Every cycle finds every
 * driver where it was, so it applies nothing: what is measured is the steady cost the poller pays
 * for watching runs.
 *
 * - requests per cycle at 10,000 against 1,000 (goal: constant — one to the master, and at most
 *   SPARK_MAX_CONCURRENT_POLLS to drivers and workers, whatever the number of runs);
 * - CPU per cycle at 10,000 against 1,000 (goal: at most linear, ≤ 10×).
 *
 *   npx ts-node --swc bench/spark-poll.ts            (BENCH_QUICK=1 for a short run)
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SparkClient } from '../src/backends/spark/spark-client';
import { SparkPollService } from '../src/backends/spark/spark-poll.service';
import { loadConfig } from '../src/config';
import { buildCore } from '../src/core';
import { migrate, openPostgres } from '../src/db/orm';
import { makeMemoryBus } from '../src/events/bus';
import { makeLogger } from '../src/logger';
import { measure, median, runStandalone, scratchDatabase, type Bench, type BenchRow } from './lib';

const WORKER = 'worker-20261202044325-127.0.0.1-38393';

/** A master answering `/json/` like Spark 4.2.0's, with `drivers` RUNNING drivers `driver-<i>` on one worker. */
async function recordedMaster(drivers: () => number) {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    if (req.url?.startsWith('/log/')) {
      // A worker's driver log, empty so far: nothing new to store, as in most cycles of a real run.
      res.setHeader('content-type', 'text/plain');
      res.end('==== Bytes 0-0 of 0 of /spark/work/driver/stderr ====\n');
      return;
    }
    const n = drivers();
    const body = {
      url: 'spark://127.0.0.1:7077',
      workers: [
        {
          id: WORKER,
          host: '127.0.0.1',
          port: 38393,
          webuiaddress: `http://${req.headers.host}`, // the worker UI (driver logs) is this server too
          cores: 64,
          coresused: 64,
          coresfree: 0,
          memory: 262144,
          memoryused: 262144,
          memoryfree: 0,
          state: 'ALIVE',
          lastheartbeat: Date.now(),
        },
      ],
      aliveworkers: 1,
      cores: 64,
      coresused: 64,
      memory: 262144,
      memoryused: 262144,
      activeapps: [],
      completedapps: [],
      activedrivers: Array.from({ length: n }, (_, i) => ({
        id: `driver-20261202050000-${String(i).padStart(5, '0')}`,
        starttime: String(Date.now()),
        state: 'RUNNING',
        cores: 1,
        memory: 512,
        submitdate: new Date().toString(),
        worker: WORKER,
        mainclass: 'dev.jobwire.spark.IngestApp',
      })),
      completeddrivers: [],
      status: 'ALIVE',
    };
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body, null, 1));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const bench: Bench = {
  name: 'spark-poll',
  async run(env) {
    const rows: BenchRow[] = [];
    const rounds = env.quick ? 10 : 50;
    let active = 0;
    const master = await recordedMaster(() => active);
    const scratch = await scratchDatabase(env, 'sparkpoll');
    const db = await openPostgres(scratch.url);
    try {
      await migrate(db.orm);
      const config = loadConfig({}, { logLevel: 'silent', databaseUrl: scratch.url, localSourceRoots: null });
      const core = buildCore({ db, bus: makeMemoryBus(), config, logger: makeLogger('silent') });
      const job = await core.jobs.create({
        name: 'bench',
        backend: 'SPARK' as never,
        source: { type: 'LOCAL' as never, params: { path: '/bench.csv' } },
        destination: { schema: 'public', table: 'bench' },
      });
      const client = new SparkClient({ restUrl: master.url, uiUrl: master.url, timeoutMs: 30_000 });
      const poll = new SparkPollService({
        sql: db.sql,
        runEvents: core.runEvents,
        client,
        logger: makeLogger('silent'),
        instanceId: 'bench',
        intervalMs: 5000,
        maxConcurrentPolls: 5,
        stuckThresholdMs: 300_000,
      });
      const addRuns = async (n: number) => {
        await db.sql.query(
          `insert into runs (id, job_id, number, attempt, max_attempts, trigger, status, backend, attempts, external_id, engine_state,
             alive_until, created_at, updated_at, version)
           select gen_random_uuid(), $1, g, 1, 3, 'MANUAL', 'RUNNING', 'SPARK', '[]',
             'driver-20261202050000-' || lpad((g - 1)::text, 5, '0'), 'RUNNING', now() + interval '1 hour', now(), now(), 1
           from generate_series($2::int, $3::int) as g`,
          [job.id, active + 1, active + n],
        );
        active += n;
        await db.sql.query('analyze runs');
      };
      const cycle = async () => {
        // Every request of the cycle reaches the recorded server: the master's /json/ and the workers' /log/.
        const m0 = master.requests();
        const m = await measure(() => poll.pollOnce());
        if (m.result.masterError) throw new Error(`the recorded master did not answer: ${m.result.masterError}`);
        if (m.result.applied !== 0) throw new Error(`a steady cycle applied ${m.result.applied} events`);
        return { cpuMs: m.cpuMs, requests: master.requests() - m0 };
      };
      const steady = async () => {
        for (let i = 0; i < 3; i++) await cycle();
        const cycles = [];
        for (let i = 0; i < rounds; i++) cycles.push(await cycle());
        return { cpuMs: median(cycles.map((c) => c.cpuMs)), requests: Math.max(...cycles.map((c) => c.requests)) };
      };
      await addRuns(1000);
      const at1k = await steady();
      await addRuns(9000);
      const at10k = await steady();
      rows.push({
        bench: 'spark-poll',
        metric: 'requests per poll cycle at 10,000 active SPARK runs',
        value: at10k.requests,
        baselineName: 'at 1,000',
        baseline: at1k.requests,
        ratio: at10k.requests / at1k.requests,
        goal: { op: '<=', target: 1 },
        note: 'most in any cycle',
      });
      rows.push({
        bench: 'spark-poll',
        metric: 'CPU per poll cycle at 10,000 active SPARK runs (ms)',
        value: at10k.cpuMs,
        baselineName: 'at 1,000 (ms)',
        baseline: at1k.cpuMs,
        ratio: at10k.cpuMs / at1k.cpuMs,
        goal: { op: '<=', target: 10 },
        note: 'median; the recorded master answer grows with the runs (≈ 2 MB at 10,000)',
      });
    } finally {
      await db.close().catch(() => undefined);
      await scratch.drop();
      await master.close();
    }
    return rows;
  },
};

export default bench;
if (require.main === module) runStandalone(bench);
