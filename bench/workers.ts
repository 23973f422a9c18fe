/**
 * The background workers' cost, on a scratch database of the bench's own:
 *
 * - an idle stuck-run pass (nothing is stuck) with 10,000 active runs, against the same pass with
 *   1,000 (goal: at most 1.5×: the pass reads only runs past their liveness deadline, through a
 *   partial index, not every active run);
 * - handling stuck runs (lease expired → FAILED TRANSIENT) and due retries (FAILED → next attempt)
 *   in batches: gateway CPU per run, against a budget of 1 ms (goal: well under it).
 *
 *   npx ts-node --swc bench/workers.ts            (BENCH_QUICK=1 for a short run)
 */
import { loadConfig } from '../src/config';
import { buildCore, type Core } from '../src/core';
import { migrate, openPostgres, type Database } from '../src/db/orm';
import { makeMemoryBus } from '../src/events/bus';
import { makeLogger } from '../src/logger';
import { measure, median, runStandalone, scratchDatabase, type Bench, type BenchEnv, type BenchRow } from './lib';

/** Inserts `n` active runs of one job, alive (deadline an hour ahead), RUNNING under a live lease. */
async function activeRuns(db: Database, jobId: string, n: number, from: number): Promise<void> {
  await db.sql.query(
    `insert into runs (id, job_id, number, attempt, max_attempts, trigger, status, backend, attempts, lease_owner, lease_expires_at,
       alive_until, stall_at, created_at, updated_at, version)
     select gen_random_uuid(), $1, g, 1, 3, 'MANUAL', 'RUNNING', 'LOCAL', '[]', 'bench', now() + interval '1 hour',
       now() + interval '1 hour', now() + interval '1 hour', now(), now(), 1
     from generate_series($2::int, $3::int) as g`,
    [jobId, from, from + n - 1],
  );
  await db.sql.query('analyze runs');
}

async function world(env: BenchEnv, label: string) {
  const scratch = await scratchDatabase(env, label);
  const db = await openPostgres(scratch.url);
  await migrate(db.orm);
  const config = loadConfig({}, { logLevel: 'silent', retryBaseDelayMs: 0, retryMaxDelayMs: 0, localSourceRoots: null });
  const core = buildCore({ db, bus: makeMemoryBus(), config, logger: makeLogger('silent') });
  const job = await core.jobs.create({
    name: 'bench',
    source: { type: 'LOCAL' as never, params: { path: '/bench.csv' } },
    destination: { schema: 'public', table: 'bench' },
  });
  return {
    db,
    core,
    jobId: job.id,
    async close() {
      await db.close().catch(() => undefined);
      await scratch.drop();
    },
  };
}

/** Median CPU (ms) of one idle stuck pass, over `rounds`. */
async function idlePass(core: Core, rounds: number): Promise<number> {
  const cpu: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const m = await measure(() => core.liveness.reconcileStuck(100));
    if (m.result.found !== 0) throw new Error(`an idle pass found ${m.result.found} stuck runs`);
    cpu.push(m.wallMs);
  }
  return median(cpu);
}

const bench: Bench = {
  name: 'workers',
  async run(env) {
    const rows: BenchRow[] = [];
    const rounds = env.quick ? 20 : 200;
    // ---- idle stuck pass: 1,000 vs 10,000 active runs ----
    const w = await world(env, 'workers');
    try {
      await activeRuns(w.db, w.jobId, 1000, 1);
      await idlePass(w.core, 10);
      const at1k = await idlePass(w.core, rounds);
      await activeRuns(w.db, w.jobId, 9000, 1001);
      await idlePass(w.core, 10);
      const at10k = await idlePass(w.core, rounds);
      rows.push({
        bench: 'workers',
        metric: 'idle stuck pass at 10,000 active runs (ms)',
        value: at10k,
        baselineName: 'the same pass at 1,000 (ms)',
        baseline: at1k,
        ratio: at10k / at1k,
        goal: { op: '<=', target: 1.5 },
        note: 'wall time per pass, median',
      });

      // ---- stuck runs, in batches ----
      const n = env.quick ? 200 : 1000;
      await w.db.sql.query(
        `update runs set lease_expires_at = now() - interval '1 second', alive_until = now() - interval '1 second'
         where id in (select id from runs where status = 'RUNNING' limit $1)`,
        [n],
      );
      let handled = 0;
      const stuck = await measure(async () => {
        for (;;) {
          const pass = await w.core.liveness.reconcileStuck(100);
          handled += pass.lost;
          if (pass.found === 0) break;
        }
      });
      if (handled !== n) throw new Error(`expected ${n} stuck runs failed, got ${handled}`);
      rows.push({
        bench: 'workers',
        metric: 'a stuck run handled, in batches of 100 (µs CPU)',
        value: (stuck.cpuMs * 1000) / n,
        baselineName: 'budget (µs)',
        baseline: 1000,
        ratio: stuck.cpuMs / n,
        goal: { op: '<=', target: 0.5 },
        note: `${n} runs, ${(stuck.wallMs / n).toFixed(2)} ms wall each`,
      });

      // ---- due retries, in batches ----
      await w.db.sql.query(
        `update runs set next_retry_at = now() - interval '1 second' where status = 'FAILED' and next_retry_at is not null`,
      );
      let started = 0;
      const retries = await measure(async () => {
        for (;;) {
          const s = await w.core.retries.startDue(100);
          started += s.length;
          if (s.length === 0) break;
        }
      });
      if (started !== n) throw new Error(`expected ${n} retries started, got ${started}`);
      rows.push({
        bench: 'workers',
        metric: 'a due retry started, in batches of 100 (µs CPU)',
        value: (retries.cpuMs * 1000) / n,
        baselineName: 'budget (µs)',
        baseline: 1000,
        ratio: retries.cpuMs / n,
        goal: { op: '<=', target: 0.5 },
        note: `${n} runs, ${(retries.wallMs / n).toFixed(2)} ms wall each`,
      });
    } finally {
      await w.close();
    }
    return rows;
  },
};

export default bench;
if (require.main === module) runStandalone(bench);
