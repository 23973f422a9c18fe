/**
 * The run-event apply path against raw SQL doing the least the same change needs, in the same run,
 * on a scratch database of the bench's own:
 *
 * - stage increments, one per transaction (`apply`), against a raw `UPDATE … SET n = n + 1` loop;
 * - stage increments in batches of 1,000 (`applyBatch`, every event with its eventId: deduped,
 *   ordered, versioned), against one batched `UPDATE … FROM (VALUES …)` per 1,000;
 * - log lines in batches of 1,000 against `COPY` of the same lines into an identical table.
 *
 *   npx ts-node --swc bench/apply.ts            (BENCH_QUICK=1 for a short run)
 */
import { SEARCH_PATH_OPTION } from '../src/db/db-schema';
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Pool } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { loadConfig } from '../src/config';
import { buildCore } from '../src/core';
import { makeMetrics } from '../src/metrics/metrics';
import { migrate, openPostgres } from '../src/db/orm';
import { LogLevel, RunStatus, RunTrigger, SourceType } from '../src/domain';
import { makeMemoryBus } from '../src/events/bus';
import { makeLogger } from '../src/logger';
import type { CoreEvent } from '../src/runs/core-events';
import { measure, runStandalone, scratchDatabase, type Bench, type BenchRow } from './lib';

const bench: Bench = {
  name: 'apply',
  async run(env) {
    const quick = env.quick;
    const scratch = await scratchDatabase(env, 'apply');
    const db = await openPostgres(scratch.url);
    const pool = new Pool({ connectionString: scratch.url, max: 2, options: SEARCH_PATH_OPTION });
    try {
      await migrate(db.orm);
      const config = loadConfig({}, { logLevel: 'silent', localSourceRoots: null });
      // With the gateway's metrics, as createApp builds it (BENCH_METRICS=0: without, for a before/after).
      const metrics = process.env.BENCH_METRICS === '0' ? undefined : makeMetrics();
      const core = buildCore({ db, bus: makeMemoryBus(), config, logger: makeLogger('silent'), metrics });
      const job = await core.jobs.create({
        name: 'bench',
        source: { type: SourceType.LOCAL, params: { path: '/bench.csv' } },
        destination: { schema: 'public', table: 'bench' },
      });
      const runs: string[] = [];
      for (let i = 0; i < 100; i++) {
        const { run } = await core.runEvents.createRun(job.id, RunTrigger.MANUAL);
        runs.push(run.id);
      }
      await core.runEvents.applyBatch(runs.map((runId) => ({ runId, type: 'run.status', payload: { status: RunStatus.RUNNING } })));
      // Every run gets ten stages, so a batch of 1,000 touches 1,000 distinct stage rows, as the baseline does.
      const stages = Array.from({ length: 10 }, (_, i) => `stage-${i}`);
      await core.runEvents.applyBatch(
        runs.flatMap((runId) => stages.map((stage) => ({ runId, type: 'stage.progress', payload: { stage, totalItems: 1e9 } }))),
      );
      const rows: BenchRow[] = [];
      const c = await pool.connect();
      try {
        // ---- one increment per transaction ----
        const n1 = quick ? 300 : 2000;
        await c.query('update run_stages set completed_items = completed_items + 1 where run_id = $1 and name = $2', [runs[0], stages[0]]); // warm
        const raw1 = await measure(async () => {
          for (let i = 0; i < n1; i++) {
            await c.query('update run_stages set completed_items = completed_items + 1 where run_id = $1 and name = $2', [
              runs[i % 100],
              stages[i % 10],
            ]);
          }
        });
        const ours1 = await measure(async () => {
          for (let i = 0; i < n1; i++) {
            await core.runEvents.apply({
              eventId: crypto.randomUUID(),
              runId: runs[i % 100],
              type: 'stage.progress',
              payload: { stage: stages[i % 10], increment: 1 },
            });
          }
        });
        rows.push(
          row(
            'stage increment, one per transaction (events/s)',
            n1 / (ours1.wallMs / 1000),
            'raw UPDATE loop (rows/s)',
            n1 / (raw1.wallMs / 1000),
            '>=',
            0.5,
            cpuNote(ours1.cpuMs, n1),
          ),
        );

        // ---- batches of 1,000 ----
        const batches = quick ? 5 : 30;
        const values = (k: number) => runs.flatMap((r, i) => stages.map((s, j) => [r, s, ((i + j + k) % 3) + 1] as const));
        const rawB = await measure(async () => {
          for (let b = 0; b < batches; b++) {
            const v = values(b);
            const params: unknown[] = [];
            const tuples = v.map(([r, s, inc]) => {
              params.push(r, s, inc);
              const n = params.length;
              return `($${n - 2}::uuid, $${n - 1}, $${n}::int)`;
            });
            await c.query(
              `update run_stages t set completed_items = t.completed_items + v.inc from (values ${tuples.join(', ')}) as v(run_id, name, inc)
               where t.run_id = v.run_id and t.name = v.name`,
              params,
            );
          }
        });
        const oursB = await measure(async () => {
          for (let b = 0; b < batches; b++) {
            const events: CoreEvent[] = values(b).map(([runId, stage, inc]) => ({
              eventId: crypto.randomUUID(),
              runId,
              type: 'stage.progress',
              payload: { stage, increment: inc },
            }));
            await core.runEvents.applyBatch(events);
          }
        });
        const nB = batches * 1000;
        rows.push(
          row(
            'stage increments, batches of 1,000 (events/s)',
            nB / (oursB.wallMs / 1000),
            'batched raw UPDATE (rows/s)',
            nB / (rawB.wallMs / 1000),
            '>=',
            0.5,
            cpuNote(oursB.cpuMs, nB),
          ),
        );

        // ---- log lines ----
        const logBatches = quick ? 20 : 200;
        const line = (i: number) =>
          `line ${i}: read 10000 rows from /data/in/orders-${i % 7}.csv in 41 ms, 3 bad rows (column 4 is not a number)`;
        await c.query('create table copy_logs (like run_logs including all)');
        const copyRun = crypto.randomUUID();
        const rawL = await measure(async () => {
          for (let b = 0; b < logBatches; b++) {
            const text = Array.from({ length: 1000 }, (_, k) => {
              const i = b * 1000 + k;
              // The same row the writer stores, its runEvents cursor included.
              return `${copyRun}\t${i + 1}\t1\t${new Date().toISOString()}\tINFO\t${line(i)}\texecutor\t${i + 2}\n`;
            }).join('');
            await pipeline(
              Readable.from([text]),
              c.query(
                copyFrom('copy copy_logs (run_id, seq, attempt, "timestamp", level, message, source, event_seq) from stdin (format text)'),
              ),
            );
          }
        });
        const logRun = runs[1];
        const oursL = await measure(async () => {
          for (let b = 0; b < logBatches; b++) {
            const lines = Array.from({ length: 1000 }, (_, k) => ({
              level: LogLevel.INFO,
              message: line(b * 1000 + k),
              source: 'executor',
              timestamp: new Date().toISOString(),
            }));
            await core.runEvents.applyBatch([{ runId: logRun, type: 'run.log', payload: { lines } }]);
          }
        });
        const nL = logBatches * 1000;
        rows.push(
          row(
            'log lines, batches of 1,000 (lines/s)',
            nL / (oursL.wallMs / 1000),
            'COPY (lines/s)',
            nL / (rawL.wallMs / 1000),
            '>=',
            0.7,
            cpuNote(oursL.cpuMs, nL),
          ),
        );
      } finally {
        c.release();
      }
      return rows;
    } finally {
      await pool.end().catch(() => undefined);
      await db.close().catch(() => undefined);
      await scratch.drop();
    }
  },
};

function row(
  metric: string,
  value: number,
  baselineName: string,
  baseline: number,
  op: '>=' | '<=',
  target: number,
  note: string,
): BenchRow {
  return { bench: 'apply', metric, value, baselineName, baseline, ratio: value / baseline, goal: { op, target }, note };
}

const cpuNote = (cpuMs: number, n: number) => `${((cpuMs * 1000) / n).toFixed(0)} µs gateway CPU per item`;

export default bench;
if (require.main === module) runStandalone(bench);
