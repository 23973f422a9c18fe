/**
 * A gateway whose Redis goes away and comes back (a private Redis this file stops and starts, the
 * shared PostgreSQL): runs keep executing and their changes are stored while it is away, `/readyz`
 * says so, and once it is back every open subscription converges by itself — runUpdated of a run
 * sends the status it ended with, runUpdated of a job sends a run started and finished during the
 * outage, stageProgress the final counts, runLogs every line after what it had sent, each once,
 * runEvents every line once and the run's end, its cursors still strictly increasing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CreateJobDocument,
  RunDocument,
  RunEventsDocument,
  RunLogsDocument,
  RunLogsLiveDocument,
  RunUpdatedDocument,
  StageProgressDocument,
  StartJobDocument,
} from '../../client/generated/graphql';
import { spawnGateway, type GatewayProcess } from '../helpers/app';
import { createTestDatabase, uniqueRedisPrefix } from '../helpers/db';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';
import { gql, ok } from '../helpers/http';
import { canRunPrivateRedis, startPrivateRedis, type PrivateRedis } from '../helpers/private-redis';
import { createWsClient } from '../helpers/ws-client';

const disposables = new Disposables();
afterAll(() => disposables.disposeAll());

const ROWS = 12_000;

async function readyz(gw: GatewayProcess): Promise<{ status: number; checks: Record<string, string> }> {
  const res = await fetch(`${gw.url}/readyz`);
  return { status: res.status, checks: ((await res.json()) as { checks: Record<string, string> }).checks };
}

/** Every stored log line's seq, page by page (queries need no Redis). */
async function storedSeqs(url: string, runId: string): Promise<number[]> {
  const seqs: number[] = [];
  let after: string | null | undefined = null;
  for (;;) {
    const page: any = ok(await gql(url, RunLogsDocument, { id: runId, first: 500, after })).run!.logs;
    seqs.push(...page.edges.map((e: any) => Number(e.node.seq)));
    if (!page.pageInfo.hasNextPage) return seqs;
    after = page.pageInfo.endCursor;
  }
}

(canRunPrivateRedis() ? describe : describe.skip)('Redis down and back', () => {
  let redis: PrivateRedis;
  let gw: GatewayProcess;
  let url: string;
  let dir: string;

  beforeAll(async () => {
    redis = disposables.add(await startPrivateRedis(), (r) => r.destroy());
    const db = disposables.add(await createTestDatabase('redisfault'), (d) => d.drop());
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-redis-faults-'));
    disposables.defer(() => fs.rmSync(dir, { recursive: true, force: true }));
    const rows = ['id,name'];
    for (let i = 1; i <= ROWS; i++) rows.push(`${i},name ${i}`);
    fs.writeFileSync(path.join(dir, 'slow.csv'), rows.join('\n') + '\n');
    fs.writeFileSync(path.join(dir, 'small.csv'), 'id,name\n1,a\n2,b\n3,c\n');
    gw = await spawnGateway({
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: uniqueRedisPrefix('redisfault'),
      LOCAL_SOURCE_ROOTS: dir,
    });
    disposables.defer(() => gw.stop());
    url = `${gw.url}/graphql`;
  }, 120_000);

  it('runs go on while Redis is away, /readyz says so, and open subscriptions get what happened meanwhile', async () => {
    const createJob = async (name: string, file: string, maxRowsPerSecond?: number) =>
      ok(
        await gql(url, CreateJobDocument, {
          input: {
            name,
            source: { type: 'LOCAL' as never, params: { path: path.join(dir, file) } },
            destination: { schema: 'redis_faults', table: name },
            processing: { format: 'CSV' as never, batchSize: 500, ...(maxRowsPerSecond ? { maxRowsPerSecond } : {}) },
          },
        }),
      ).createJob;
    // A run paced to a few seconds, watched by a client whose socket stays open throughout.
    const slow = await createJob('slow', 'slow.csv', 3000);
    const small = await createJob('small', 'small.csv');
    const ws = disposables.add(await createWsClient(`${gw.url.replace(/^http/, 'ws')}/graphql`), (c) => c.dispose());
    const run = ok(await gql(url, StartJobDocument, { id: slow.id })).startJob;
    const updates = ws.subscribe(RunUpdatedDocument, { runId: run.id });
    const stages = ws.subscribe(StageProgressDocument, { runId: run.id });
    const logs = ws.subscribe(RunLogsLiveDocument, { runId: run.id });
    const events = ws.subscribe(RunEventsDocument, { runId: run.id });
    // A job with no run yet: its first run starts and ends while Redis is away.
    const jobRuns = ws.subscribe(RunUpdatedDocument, { jobId: small.id });
    await updates.waitFor((m) => m.data?.runUpdated.status === 'RUNNING', 30_000);
    const seen: number[] = [];
    const takeLines = () => {
      for (const m of logs.all()) {
        expect(m.errors).toBeUndefined();
        seen.push(...m.data!.runLogs.lines.map((l) => Number(l.seq)));
      }
    };

    await redis.stop();
    const down = await waitFor(async () => {
      const r = await readyz(gw);
      return r.status === 503 && r.checks.redis !== 'ok' ? r : null;
    }, '/readyz to say Redis is down');
    expect(down.checks.database).toBe('ok');
    // The run ends, and another starts and ends, with Redis away: writes do not wait for the bus.
    await waitFor(
      async () => ok(await gql(url, RunDocument, { id: run.id })).run!.status === 'SUCCEEDED',
      'the slow run to succeed during the outage',
      60_000,
    );
    const other = ok(await gql(url, StartJobDocument, { id: small.id })).startJob;
    await waitFor(
      async () => ok(await gql(url, RunDocument, { id: other.id })).run!.status === 'SUCCEEDED',
      'the small run to succeed during the outage',
      60_000,
    );
    expect((await readyz(gw)).status).toBe(503);
    expect(gw.child.exitCode).toBeNull();
    takeLines();

    await redis.start();
    await waitFor(async () => (await readyz(gw)).status === 200, '/readyz to be 200 again', 30_000);
    // No client resubscribed: each open subscription converges on its own.
    const final = await updates.waitFor((m) => m.data?.runUpdated.status === 'SUCCEEDED', 30_000);
    expect(final.data!.runUpdated.progress).toBe(1);
    const finalStage = await stages.waitFor(
      (m) => m.data?.stageProgress.name === 'load' && m.data.stageProgress.status === 'COMPLETED',
      30_000,
    );
    expect(finalStage.data!.stageProgress.completedItems).toBe(ROWS);
    const otherDone = await jobRuns.waitFor((m) => m.data?.runUpdated.id === other.id && m.data.runUpdated.status === 'SUCCEEDED', 30_000);
    expect(otherDone.data!.runUpdated.number).toBe(1);

    // The log client: every stored line, each exactly once, though some were published into the void.
    const stored = await storedSeqs(url, run.id);
    await waitFor(
      () => {
        takeLines();
        return seen.includes(stored.at(-1)!);
      },
      'the log subscription to reach the last stored line',
      30_000,
    );
    expect(seen).toEqual(stored);

    // The run page's one stream: every stored line once, the end, cursors strictly increasing throughout.
    const received: any[] = [];
    await waitFor(
      () => {
        received.push(...events.all().map((m) => m.data!.runEvents));
        return (
          received.some((e) => e.__typename === 'RunStatusEvent' && e.run.status === 'SUCCEEDED') &&
          received.flatMap((e) => (e.__typename === 'LogEvent' ? e.chunk.lines : [])).some((l: any) => Number(l.seq) === stored.at(-1))
        );
      },
      "runEvents to reach the run's end and its last line",
      30_000,
    );
    const cursors = received.map((e) => Number(e.cursor));
    expect(cursors).toEqual([...cursors].sort((a, b) => a - b));
    expect(new Set(cursors).size).toBe(cursors.length);
    expect(received.flatMap((e) => (e.__typename === 'LogEvent' ? e.chunk.lines.map((l: any) => Number(l.seq)) : []))).toEqual(stored);
    expect(gw.output()).toContain('live subscriptions re-read their state');
  }, 240_000);
});
