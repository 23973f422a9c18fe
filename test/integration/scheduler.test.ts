/**
 * The scheduler of two gateways on one PostgreSQL and Redis: cron schedules, retries and stalls.
 * The tests drive each scheduler's `tick()` (both at once, several times) instead of sleeping and
 * hoping nothing happened: every assertion follows passes that really ran.
 */
import type { Backend } from '../../src/backends/backend';
import { makeLocalBackend } from '../../src/backends/local/local.backend';
import { loadConfig, type Config } from '../../src/config';
import { TEST_SOURCE_ACCESS } from '../helpers/source-access';
import type { Core } from '../../src/core';
import { JobEntity, RunEntity } from '../../src/db/entities';
import { openPostgres, type Database } from '../../src/db/orm';
import {
  ErrorKind,
  ExecutionBackend,
  RunStatus,
  RunTrigger,
  SourceType,
  StallAction,
  type RunView,
  type ScheduleConfig,
} from '../../src/domain';
import { makeRedisBus, type EventBus } from '../../src/events/bus';
import { Topic } from '../../src/events/topics';
import { makeLogger } from '../../src/logger';
import { DEFAULT_POLICIES } from '../../src/runs/run-apply';
import { ENGINE_SOURCES } from '../../src/backends/backend';
import { makeScheduler } from '../../workers/scheduler';
import { testCore } from '../helpers/core';
import { createTestDatabase, REDIS_URL, uniqueRedisPrefix } from '../helpers/db';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';

const disposables = new Disposables();
const logger = makeLogger((process.env.TEST_LOG_LEVEL as 'silent') ?? 'silent');
let config: Readonly<Config>;

/** One gateway: its own pools and services on the shared database and Redis, and its scheduler (not started). */
interface Gateway {
  db: Database;
  core: Core;
  scheduler: ReturnType<typeof makeScheduler>;
}
let gateways: Gateway[];
let bus: EventBus;
let db: Database;
let core: Core;

/** A KAFKA backend that records what it was asked to run. */
const submitted: RunView[] = [];
const kafkaBackend: Backend = {
  kind: ExecutionBackend.KAFKA,
  policy: DEFAULT_POLICIES.KAFKA,
  sources: ENGINE_SOURCES,
  unavailableReason: () => null,
  submit: async (run) => {
    submitted.push(run);
    return {};
  },
  cancel: async () => undefined,
  reconcile: async () => ({ state: 'alive' }),
};

const everyMinute: ScheduleConfig = { cron: '* * * * *', timezone: 'UTC', startAt: null, endAt: null, retryDelaySeconds: 0, enabled: true };
const yearly: ScheduleConfig = { ...everyMinute, cron: '0 0 1 1 *' };

async function createJob(
  opts: { schedule?: ScheduleConfig; nextRunAt?: Date; backend?: ExecutionBackend; stall?: [number, StallAction] } = {},
) {
  const job = await core.jobs.create({
    name: 'scheduled',
    backend: opts.backend ?? ExecutionBackend.LOCAL,
    source: { type: SourceType.LOCAL, params: { path: '/nowhere.csv' } },
    destination: { schema: 'public', table: 'scheduled' },
    maxAttempts: 3,
    ...(opts.stall ? { stallTimeoutSeconds: opts.stall[0], onStall: opts.stall[1] } : {}),
  });
  // The due time is set by hand: the tests decide when a schedule is due.
  await db.orm.em.fork().nativeUpdate(JobEntity, { id: job.id }, { schedule: opts.schedule ?? null, nextRunAt: opts.nextRunAt ?? null });
  return job.id;
}

const runsOf = (jobId: string) => db.orm.em.fork().find(RunEntity, { jobId }, { orderBy: { number: 'asc' } });
const jobRow = (jobId: string) => db.orm.em.fork().findOneOrFail(JobEntity, { id: jobId });

/** Makes a schedule due again, as the clock passing its next fire time would. */
async function makeDue(jobId: string) {
  await db.orm.em.fork().nativeUpdate(JobEntity, { id: jobId }, { nextRunAt: new Date(Date.now() - 1000) });
}

/** Both gateways' schedulers pass `times` times, at the same moment each time. */
async function passes(times = 3) {
  for (let i = 0; i < times; i++) await Promise.all(gateways.map((g) => g.scheduler.tick()));
}

/** Stops (CANCELLED) every QUEUED run of a job, so its next fire time is not skipped for an active run. */
async function finishRunsOf(jobId: string) {
  for (const r of await runsOf(jobId)) {
    if (r.status === RunStatus.QUEUED) await core.runEvents.apply({ runId: r.id, type: 'run.cancel', payload: { force: true } });
  }
}

beforeAll(async () => {
  const database = await createTestDatabase('scheduler');
  disposables.defer(() => database.drop());
  bus = disposables.add(await makeRedisBus(REDIS_URL, uniqueRedisPrefix('scheduler')), (b) => b.close());
  config = loadConfig({}, { ...TEST_SOURCE_ACCESS, retryBaseDelayMs: 100, retryMaxDelayMs: 200 });
  gateways = [];
  for (const name of ['gw-a', 'gw-b']) {
    const gdb = disposables.add(await openPostgres(database.url, { poolSize: 4 }), (d) => d.close());
    const gcore = testCore(gdb, bus, { logger, config, backends: [makeLocalBackend(), kafkaBackend] });
    gateways.push({ db: gdb, core: gcore, scheduler: makeScheduler({ ...gcore, config, logger, instanceId: name }) });
  }
  ({ db, core } = gateways[0]);
});

afterAll(() => disposables.disposeAll());

describe('scheduler', () => {
  it('with two gateways, starts exactly one run per fire time', async () => {
    const jobId = await createJob({ schedule: yearly, nextRunAt: new Date(Date.now() - 1000) });
    for (let fire = 1; fire <= 5; fire++) {
      if (fire > 1) await makeDue(jobId);
      await passes();
      expect(await runsOf(jobId)).toHaveLength(fire);
      expect((await jobRow(jobId)).nextRunAt!.getTime()).toBeGreaterThan(Date.now());
      await finishRunsOf(jobId);
    }
    const runs = await runsOf(jobId);
    expect(runs.map((r) => r.number)).toEqual([1, 2, 3, 4, 5]);
    expect(runs.every((r) => r.trigger === RunTrigger.SCHEDULE)).toBe(true);
    expect((await jobRow(jobId)).nextRunAt!.toISOString()).toMatch(/-01-01T00:00:00.000Z$/);
  });

  it('with two gateways, fires each of many due jobs once', async () => {
    const jobIds: string[] = [];
    for (let i = 0; i < 20; i++) jobIds.push(await createJob({ schedule: yearly, nextRunAt: new Date(Date.now() - 1000) }));
    await passes();
    const jobs = await db.orm.em.fork().find(JobEntity, { id: { $in: jobIds } });
    expect(jobs.every((j) => j.nextRunAt!.getTime() > Date.now())).toBe(true);
    const runs = await db.orm.em.fork().find(RunEntity, { jobId: { $in: jobIds } });
    expect(runs).toHaveLength(20);
    expect(new Set(runs.map((r) => r.jobId)).size).toBe(20);
  });

  it('fires a schedule that missed fire times once, then moves on to the next future time', async () => {
    const jobId = await createJob({ schedule: everyMinute, nextRunAt: new Date(Date.now() - 3600_000) });
    await passes();
    expect(await runsOf(jobId)).toHaveLength(1);
    const next = (await jobRow(jobId)).nextRunAt!;
    expect(next.getTime()).toBeGreaterThan(Date.now());
    expect(next.getTime()).toBeLessThanOrEqual(Date.now() + 60_000);
  });

  it('skips a fire time while the job still has an active run, and still advances the schedule', async () => {
    const jobId = await createJob({ schedule: yearly });
    const { run: active } = await core.runEvents.createRun(jobId, RunTrigger.MANUAL);
    expect(active.status).toBe(RunStatus.QUEUED);
    await makeDue(jobId);
    await passes();
    expect((await jobRow(jobId)).nextRunAt!.getTime()).toBeGreaterThan(Date.now());
    expect((await runsOf(jobId)).map((r) => r.id)).toEqual([active.id]);
  });

  it('hands scheduled runs of other backends to their backend, once', async () => {
    const jobId = await createJob({ schedule: yearly, nextRunAt: new Date(Date.now() - 1000), backend: ExecutionBackend.KAFKA });
    await passes();
    const [run, ...more] = await runsOf(jobId);
    expect(more).toHaveLength(0);
    expect(run.status).toBe(RunStatus.PENDING);
    expect(submitted.filter((r) => r.id === run.id)).toHaveLength(1);
  });

  it('starts a due retry once, with two gateways', async () => {
    const jobIds = [await createJob(), await createJob(), await createJob({ backend: ExecutionBackend.KAFKA })];
    const runIds: string[] = [];
    for (const jobId of jobIds) runIds.push((await core.runEvents.createRun(jobId, RunTrigger.MANUAL)).run.id);
    const queued: RunView[] = [];
    const sub = await bus.subscribe(Topic.RUN_STATUS);
    const seen = (async () => {
      for await (const v of sub) if (runIds.includes(v.id) && v.attempt === 2) queued.push(v);
    })();
    try {
      for (const runId of runIds) {
        await core.runEvents.apply({ runId, type: 'run.status', payload: { status: RunStatus.RUNNING } });
        const failed = await core.runEvents.apply({
          runId,
          type: 'run.status',
          payload: { status: RunStatus.FAILED, error: { message: 'connection reset', kind: ErrorKind.TRANSIENT, details: null } },
        });
        expect(failed.run.nextRetryAt).not.toBeNull();
      }
      // Due now: the back-off (at most 200 ms) has run out.
      await db.orm.em.fork().nativeUpdate(RunEntity, { id: { $in: runIds } }, { nextRetryAt: new Date(Date.now() - 1) });
      await passes();
      const runs = await db.orm.em.fork().find(RunEntity, { id: { $in: runIds } });
      for (const r of runs) {
        expect(r.attempt).toBe(2);
        expect(r.attempts).toHaveLength(2);
        expect(r.status).toBe(r.backend === ExecutionBackend.LOCAL ? RunStatus.QUEUED : RunStatus.PENDING);
        expect(r.nextRetryAt).toBeNull();
      }
      const kafkaRun = runs.find((r) => r.backend === ExecutionBackend.KAFKA)!;
      expect(submitted.filter((r) => r.id === kafkaRun.id && r.attempt === 2)).toHaveLength(1);
      // One status change to attempt 2 per run, seen by subscribers (published after each commit).
      await waitFor(() => queued.length >= runIds.length, 'the three attempt-2 status messages');
      expect(queued.map((v) => v.id).sort()).toEqual([...runIds].sort());
    } finally {
      sub.close();
      await seen;
    }
  });
});
