/**
 * What every benchmark shares: its result rows (a figure, the baseline measured beside it in the
 * same run, their ratio and the goal), where it runs (database, port and Redis prefix from the
 * environment, never hard-coded), and timing helpers. `npm run bench` (bench/run.ts) runs every
 * bench's `run()` and prints one table; each bench also runs on its own (`npx ts-node --swc bench/<name>.ts`).
 */
import crypto from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';

/** One line of the table: `value` against `baseline`, `ratio = value / baseline`, judged by `goal`. */
export interface BenchRow {
  bench: string;
  /** What is measured, e.g. `stage increments, batches of 1000 (events/s)`. */
  metric: string;
  value: number;
  /** What the baseline is, e.g. `batched raw UPDATE (rows/s)`. */
  baselineName: string;
  baseline: number;
  /** `value / baseline` (or as the goal defines it). */
  ratio: number;
  /** The goal, e.g. `>= 0.5` or `<= 3`; null when the row is informative only. */
  goal: { op: '>=' | '<='; target: number } | null;
  /** Units or notes printed beside the figures. */
  note?: string;
}

export const met = (r: BenchRow) => (r.goal ? (r.goal.op === '>=' ? r.ratio >= r.goal.target : r.ratio <= r.goal.target) : null);

/** A bench module: `run()` measures and returns its rows; cleanup is its own business (always, even on failure). */
export interface Bench {
  name: string;
  run(env: BenchEnv): Promise<BenchRow[]>;
}

/** Where benches run, from the environment. */
export interface BenchEnv {
  /** Admin connection to create and drop the bench's databases (`BENCH_ADMIN_URL`, else `DATABASE_URL`, else the local server). */
  adminUrl: string;
  /** Redis (`REDIS_URL`, else the local server). */
  redisUrl: string;
  /** Prefix of every Redis channel a bench uses (`BENCH_REDIS_PREFIX`, else a fresh `jobwire:bench:<random>:`). */
  redisPrefix: string;
  /** HTTP port for gateways a bench starts (`BENCH_PORT`, else 0: any free port). */
  port: number;
  /** Kafka brokers, host:port (`KAFKA_BROKERS`, comma-separated, else the local broker `127.0.0.1:9092`). */
  kafkaBrokers: string[];
  /** Shorter runs for a smoke test (`BENCH_QUICK=1`). */
  quick: boolean;
}

export function benchEnv(env: Record<string, string | undefined> = process.env): BenchEnv {
  return {
    adminUrl: env.BENCH_ADMIN_URL ?? env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    redisPrefix: env.BENCH_REDIS_PREFIX ?? `jobwire:bench:${crypto.randomBytes(4).toString('hex')}:`,
    port: env.BENCH_PORT ? Number(env.BENCH_PORT) : 0,
    kafkaBrokers: (env.KAFKA_BROKERS || '127.0.0.1:9092')
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
    quick: env.BENCH_QUICK === '1',
  };
}

/** The URL of database `name` on the admin connection's server. */
export function databaseUrl(adminUrl: string, name: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Creates a database of the bench's own; `drop()` removes it (call it in `finally`). */
export async function scratchDatabase(env: BenchEnv, label: string): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `jobwire_bench_${label}_${process.pid}_${crypto.randomBytes(3).toString('hex')}`;
  const admin = new Client({ connectionString: env.adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  return {
    url: databaseUrl(env.adminUrl, name),
    name,
    async drop() {
      const c = new Client({ connectionString: env.adminUrl });
      await c.connect();
      try {
        await c.query(`drop database if exists ${name} with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Milliseconds with sub-millisecond resolution. */
export const now = () => performance.now();

/** CPU time (user + system) of this process in ms while `fn` runs, and the wall time. */
export async function measure<T>(fn: () => Promise<T>): Promise<{ result: T; cpuMs: number; wallMs: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = now();
  const result = await fn();
  const wallMs = now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { result, cpuMs: (cpu.user + cpu.system) / 1000, wallMs };
}

/** The median of numbers. */
export function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  return v.length ? v[Math.floor((v.length - 1) / 2)] : NaN;
}

/** p-quantile (0..1) of numbers. */
export function quantile(values: number[], q: number): number {
  const v = Float64Array.from(values).sort();
  return v.length ? v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))] : NaN;
}

/** Runs a bench module standalone: prints its rows and exits non-zero when it threw. */
export function runStandalone(bench: Bench): void {
  bench
    .run(benchEnv())
    .then((rows) => {
      printTable(rows);
      process.exit(0);
    })
    .catch((err) => {
      console.error(`${bench.name} failed:`, err);
      process.exit(1);
    });
}

/** Prints rows as one aligned table, with whether each goal was met. */
export function printTable(rows: BenchRow[]): void {
  const fmt = (n: number) => (Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toPrecision(3));
  const cols = rows.map((r) => [
    r.bench,
    r.metric,
    fmt(r.value),
    `${r.baselineName}: ${fmt(r.baseline)}`,
    r.ratio.toFixed(r.ratio >= 10 ? 1 : 3),
    r.goal ? `${r.goal.op} ${r.goal.target}` : '',
    met(r) === null ? '' : met(r) ? 'met' : 'MISSED',
    r.note ?? '',
  ]);
  const head = ['bench', 'measure', 'value', 'baseline (same run)', 'ratio', 'goal', '', 'note'];
  const widths = head.map((h, i) => Math.max(h.length, ...cols.map((c) => c[i].length)));
  const line = (c: string[]) =>
    c
      .map((x, i) => x.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cols) console.log(line(c));
}
