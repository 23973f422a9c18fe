/**
 * Two gateways on one PostgreSQL and one Redis: one in this process, one in a process of its own.
 * A client on one sees a run driven by the other; a due schedule fires once, not once per gateway.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { App } from '../../src/app';
import { JobEntity, RunEntity } from '../../src/db/entities';
import { CreateJobDocument, RunLogsLiveDocument, RunUpdatedDocument, StartJobDocument } from '../../client/generated/graphql';
import { httpUrl, spawnGateway, startTestApp, wsUrl, type GatewayProcess } from '../helpers/app';
import { REDIS_URL, createTestDatabase, uniqueRedisPrefix } from '../helpers/db';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';
import { gql, ok } from '../helpers/http';
import { createWsClient } from '../helpers/ws-client';

describe('two gateways sharing PostgreSQL and Redis', () => {
  const disposables = new Disposables();
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let prefix: string;
  let apiOnly: App; // serves clients, runs no workers
  let _worker: GatewayProcess; // a separate process that executes, schedules and monitors
  let csv: string;

  beforeAll(async () => {
    db = disposables.add(await createTestDatabase('two'), (d) => d.drop());
    prefix = uniqueRedisPrefix('two');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-two-'));
    disposables.defer(() => fs.rmSync(dir, { recursive: true, force: true }));
    csv = path.join(dir, 'small.csv');
    fs.writeFileSync(csv, 'id,name\n' + Array.from({ length: 2000 }, (_, i) => `${i},n${i}`).join('\n') + '\n');
    apiOnly = disposables.add(await startTestApp({ databaseUrl: db.url, redisPrefix: prefix, workers: false }), (a) => a.stop());
    _worker = disposables.add(
      await spawnGateway({ DATABASE_URL: db.url, REDIS_URL, REDIS_PREFIX: prefix, SCHEDULER_INTERVAL_MS: '100', JOBWIRE_DATA_DIR: dir }),
      (w) => w.stop(),
    );
  }, 240_000);

  afterAll(() => disposables.disposeAll());

  it('lets a client on one gateway watch a run executed by the other', async () => {
    const url = httpUrl(apiOnly);
    const job = ok(
      await gql(url, CreateJobDocument, {
        input: {
          name: 'cross-replica',
          source: { type: 'LOCAL' as never, params: { path: csv } },
          destination: { schema: 'two', table: 'small' },
        },
      }),
    ).createJob;
    const client = disposables.add(await createWsClient(wsUrl(apiOnly)), (c) => c.dispose());
    const updates = client.subscribe(RunUpdatedDocument, { jobId: job.id });
    const run = ok(await gql(url, StartJobDocument, { id: job.id })).startJob;
    const logs = client.subscribe(RunLogsLiveDocument, { runId: run.id });

    const done = await updates.waitFor((m) => ['SUCCEEDED', 'FAILED'].includes(m.data?.runUpdated.status ?? ''), 30_000);
    expect(done.data!.runUpdated.status).toBe('SUCCEEDED');
    expect([...updates.all(), done].map((m) => m.data!.runUpdated.status)).toContain('RUNNING');

    // The log lines were written by the other process and reached this gateway's subscriber.
    const claimed = await logs.waitFor((m) => m.data!.runLogs.lines.some((l) => /claimed by/.test(l.message)), 10_000);
    expect(claimed.data!.runLogs.lines.length).toBeGreaterThan(0);
    // This gateway runs no executor: the claim names the other process.
    const line = claimed.data!.runLogs.lines.find((l) => /claimed by/.test(l.message))!;
    expect(line.message).not.toContain(apiOnly.instanceId);
  }, 240_000);

  it('fires a due schedule once, not once per gateway', async () => {
    // Now both gateways run schedulers.
    const second = disposables.add(await startTestApp({ databaseUrl: db.url, redisPrefix: prefix, schedulerIntervalMs: 50 }), (a) =>
      a.stop(),
    );
    const url = httpUrl(second);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const job = ok(
        await gql(url, CreateJobDocument, {
          input: {
            name: `yearly ${i}`,
            source: { type: 'LOCAL' as never, params: { path: csv } },
            destination: { schema: 'two', table: `yearly_${i}` },
            schedule: { cron: '0 0 1 1 *', timezone: 'UTC' },
          },
        }),
      ).createJob;
      ids.push(job.id);
    }
    // Make every schedule due now, at once, so both schedulers race for them.
    const em = second.db.orm.em.fork();
    await em.nativeUpdate(JobEntity, { id: { $in: ids } }, { nextRunAt: new Date(Date.now() - 1000) });

    await waitFor(async () => (await em.fork().count(RunEntity, { jobId: { $in: ids } })) >= ids.length, 'a run per job', 15_000);
    await new Promise((r) => setTimeout(r, 1500)); // give a second firing every chance to happen
    const runs = await em.fork().find(RunEntity, { jobId: { $in: ids } });
    expect(runs).toHaveLength(ids.length);
    expect(new Set(runs.map((r) => r.jobId)).size).toBe(ids.length);
    expect(runs.every((r) => r.trigger === 'SCHEDULE')).toBe(true);
    const jobs = await em.fork().find(JobEntity, { id: { $in: ids } });
    expect(jobs.every((j) => j.nextRunAt! > new Date())).toBe(true);
  }, 240_000);
});
