/**
 * `npm run bench`: every benchmark, one after the other, and one table of every figure against the
 * baseline measured beside it in the same run. Database, port, Redis prefix and Kafka come from the
 * environment (bench/lib.ts `benchEnv`): `BENCH_ADMIN_URL` or `DATABASE_URL`, `REDIS_URL`,
 * `BENCH_PORT`, `BENCH_REDIS_PREFIX`, `KAFKA_BROKERS`; `BENCH_QUICK=1` for a short smoke run;
 * `BENCH_ONLY=apply,workers` to run some. Exit code 1 when a bench failed to run (a missed goal is reported, not an error).
 */
import os from 'node:os';
import { benchEnv, met, printTable, type Bench, type BenchRow } from './lib';

// Loaded one at a time (a bench's imports cost nothing until it runs).
const BENCHES: (() => Bench)[] = [
  () => require('./apply').default,
  () => require('./one-run').default,
  () => require('./workers').default,
  () => require('./reads').readsBench,
  () => require('./subscribe').subscribeBench,
  () => require('./fanout').fanoutBench,
  () => require('./heap').heapBench,
  () => require('./embedded').default,
  () => require('./kafka').default,
  () => require('./spark-poll').default,
  () => require('./spark-lag').default,
];

async function main() {
  const env = benchEnv();
  const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
  const rows: BenchRow[] = [];
  let failed = 0;
  console.log(
    `jobwire benchmarks — ${os.cpus().length} cores, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}${env.quick ? ' (quick)' : ''}`,
  );
  for (const load of BENCHES) {
    const bench = load();
    if (only && !only.includes(bench.name)) continue;
    const started = Date.now();
    process.stdout.write(`running ${bench.name} … `);
    try {
      const got = await bench.run(env);
      rows.push(...got);
      console.log(`${((Date.now() - started) / 1000).toFixed(0)} s`);
    } catch (err) {
      failed++;
      console.log(`FAILED: ${(err as Error).stack ?? err}`);
    }
  }
  console.log('');
  printTable(rows);
  const judged = rows.filter((r) => r.goal);
  console.log(`\n${judged.filter((r) => met(r)).length} of ${judged.length} goals met; load average now ${os.loadavg()[0].toFixed(1)}`);
  process.exit(failed ? 1 : 0);
}

void main();
