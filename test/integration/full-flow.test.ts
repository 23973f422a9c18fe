/**
 * The whole story over real HTTP and WebSocket, on real PostgreSQL and Redis: a LOCAL job over a
 * 50,000-row CSV with some bad rows, watched live through every subscription, with a log client
 * that drops mid-run and resumes from its cursor.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { App } from '../../src/app';
import {
  CreateJobDocument,
  RunDocument,
  RunLogsDocument,
  RunLogsLiveDocument,
  RunMetricsDocument,
  RunUpdatedDocument,
  StageProgressDocument,
  StartJobDocument,
} from '../../client/generated/graphql';
import { startTestApp, httpUrl, wsUrl } from '../helpers/app';
import { createTestDatabase, uniqueRedisPrefix } from '../helpers/db';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';
import { gql, ok } from '../helpers/http';
import { createWsClient } from '../helpers/ws-client';

const ROWS = 50_000;
const BAD_EVERY = 400; // 125 bad rows: 0.25 %

function writeCsv(file: string): { good: number; bad: number } {
  const out: string[] = ['id,customer,amount,quantity,ordered_at'];
  let bad = 0;
  for (let i = 1; i <= ROWS; i++) {
    if (i % BAD_EVERY === 0) {
      bad++;
      // Alternate the two kinds of bad row: a wrong column count, and text in a numeric column.
      out.push(i % (2 * BAD_EVERY) === 0 ? `${i},broken-row` : `${i},cust${i % 97},abc,${i % 9},2026-03-01T10:00:00Z`);
    } else {
      out.push(`${i},cust${i % 97},${(i % 1000) / 4},${i % 9},2026-03-01T10:00:00Z`);
    }
  }
  fs.writeFileSync(file, out.join('\n') + '\n');
  return { good: ROWS - bad, bad };
}

describe('full flow: a LOCAL ingestion watched live', () => {
  const disposables = new Disposables();
  let app: App;
  let csv: string;
  let expected: { good: number; bad: number };

  beforeAll(async () => {
    const db = disposables.add(await createTestDatabase('flow'), (d) => d.drop());
    app = disposables.add(await startTestApp({ databaseUrl: db.url, redisPrefix: uniqueRedisPrefix('flow') }), (a) => a.stop());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-flow-'));
    disposables.defer(() => fs.rmSync(dir, { recursive: true, force: true }));
    csv = path.join(dir, 'orders.csv');
    expected = writeCsv(csv);
  }, 60_000);

  afterAll(() => disposables.disposeAll());

  it('streams status, stages, metrics and every log line exactly once, and loads the good rows', async () => {
    const url = httpUrl(app);
    const created = ok(
      await gql(url, CreateJobDocument, {
        input: {
          name: 'orders 50k',
          source: { type: 'LOCAL' as never, params: { path: csv } },
          destination: { schema: 'flow', table: 'orders' },
          // Paced to about 1.5 s so progress is seen moving, however fast this machine loads.
          processing: { format: 'CSV' as never, batchSize: 1000, maxRowsPerSecond: 35_000 },
        },
      }),
    ).createJob;

    const watcher = disposables.add(await createWsClient(wsUrl(app)), (c) => c.dispose());
    const updates = watcher.subscribe(RunUpdatedDocument, { jobId: created.id });

    const run = ok(await gql(url, StartJobDocument, { id: created.id })).startJob;
    const stages = watcher.subscribe(StageProgressDocument, { runId: run.id });
    const metrics = watcher.subscribe(RunMetricsDocument, { runId: run.id });

    // A log client that vanishes after its first chunk, and a second one that resumes from its cursor.
    const first = await createWsClient(wsUrl(app));
    const firstLogs = first.subscribe(RunLogsLiveDocument, { runId: run.id });
    const chunk = (await firstLogs.next(15_000)).data!.runLogs;
    const seenByFirst = [
      ...chunk.lines.map((l) => Number(l.seq)),
      ...firstLogs.all().flatMap((m) => m.data!.runLogs.lines.map((l) => Number(l.seq))),
    ];
    first.closeAbruptly();
    await first.closed();
    const cursor = String(Math.max(...seenByFirst));

    const second = disposables.add(await createWsClient(wsUrl(app)), (c) => c.dispose());
    const secondLogs = second.subscribe(RunLogsLiveDocument, { runId: run.id, after: cursor });

    const done = await updates.waitFor((m) => ['SUCCEEDED', 'FAILED'].includes(m.data?.runUpdated.status ?? ''), 45_000);
    expect(done.data!.runUpdated.status).toBe('SUCCEEDED');
    const statuses = [...updates.all(), done].map((m) => m.data!.runUpdated.status);
    expect(statuses).toContain('SUCCEEDED');

    // Every stored line: the first client's lines up to the cursor plus the second's after it, each once.
    const stored: number[] = [];
    let after: string | null | undefined = null;
    for (;;) {
      const page: any = ok(await gql(url, RunLogsDocument, { id: run.id, first: 500, after })).run!.logs;
      stored.push(...page.edges.map((e: any) => Number(e.node.seq)));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    const lastStored = Math.max(...stored);
    const seenBySecond: number[] = [];
    await waitFor(
      () => {
        for (const m of secondLogs.all()) seenBySecond.push(...m.data!.runLogs.lines.map((l) => Number(l.seq)));
        return seenBySecond.includes(lastStored);
      },
      'the resumed client to receive the last stored line',
      15_000,
    );
    const union = [...seenByFirst, ...seenBySecond].sort((a, b) => a - b);
    expect(union).toEqual(stored);
    expect(new Set(union).size).toBe(union.length);
    expect(stored.length).toBeGreaterThan(5);

    // Stage progress moved through intermediate counts before the end.
    const stageMsgs = stages.all().map((m) => m.data!.stageProgress);
    const load = stageMsgs.filter((s) => s.name === 'load');
    expect(load.at(-1)!.completedItems).toBe(expected.good);
    expect(stageMsgs.some((s) => s.completedItems > 0 && s.completedItems < s.totalItems)).toBe(true);

    // Metric samples arrived live; the last one counts every row.
    const samples = metrics.all().map((m) => m.data!.runMetrics);
    expect(samples.length).toBeGreaterThan(0);
    expect(samples.at(-1)!.recordsProcessed).toBe(expected.good);
    expect(samples.at(-1)!.recordsFailed).toBe(expected.bad);

    const final = ok(await gql(url, RunDocument, { id: run.id })).run!;
    expect(final.progress).toBe(1);
    expect(final.stages.find((s) => s.name === 'transform')!.failedItems).toBe(expected.bad);

    const warns = ok(await gql(url, RunLogsDocument, { id: run.id, first: 1000, minLevel: 'WARN' as never })).run!.logs.edges;
    expect(warns.some((e) => /line \d+/.test(e.node.message))).toBe(true);

    const count = await app.db.pool!.query('select count(*)::int as n from flow.orders');
    expect(count.rows[0].n).toBe(expected.good);
  }, 90_000);
});
