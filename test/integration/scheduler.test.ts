import { BackendRegistry, type Backend } from '../../src/backends/backend';
import { makeLocalBackend } from '../../src/backends/local/local.backend';
import { loadConfig, type Config } from '../../src/config';
import { JobEntity, RunEntity } from '../../src/db/entities';
import { openPostgres, type Database } from '../../src/db/orm';
import {
  ClusterMode,
  DataFormat,
  ErrorKind,
  ExecutionBackend,
  InstanceType,
  ProcessingMode,
  RunStatus,
  RunTrigger,
  SourceType,
  type RunView,
  type ScheduleConfig,
} from '../../src/domain';
import { makeRedisBus, type EventBus } from '../../src/events/bus';
import { Topic } from '../../src/events/topics';
import { makeLogger } from '../../src/logger';
import { RunEventsService } from '../../src/runs/run-events.service';
import type { Loop } from '../../workers/loop';
import { makeScheduler } from '../../workers/scheduler';
import { createTestDatabase, REDIS_URL, uniqueRedisPrefix } from '../helpers/db';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';

const disposables = new Disposables();
const logger = makeLogger((process.env.TEST_LOG_LEVEL as 'silent') ?? 'silent');
let config: Readonly<Config>;

/** One gateway: its own ORM (connection pool) and run-event service on the shared database and Redis. */
interface Gateway {
  db: Database;
  runEvents: RunEventsService;
  scheduler: Loop;
}
let gateways: Gateway[];
let bus: EventBus;
let db: Database;
let runEvents: RunEventsService;

/** A KAFKA backend that records what it was asked to run. */
const submitted: RunView[] = [];
const kafkaBackend: Backend = {
  kind: ExecutionBackend.KAFKA,
  unavailableReason: () => null,
  submit: async (run) => void submitted.push(run),
  cancel: async () => undefined,
  reconcile: async () => ({ state: 'alive' }),
};

const everyMinute: ScheduleConfig = { cron: '* * * * *', timezone: 'UTC', startAt: null, endAt: null, retryDelaySeconds: 0, enabled: true };
const yearly: ScheduleConfig = { ...everyMinute, cron: '0 0 1 1 *' };

async function createJob(opts: { schedule?: ScheduleConfig; nextRunAt?: Date; backend?: ExecutionBackend } = {}) {
  const em = db.orm.em.fork();
  const job = em.create(JobEntity, {
    name: 'scheduled',
    backend: opts.backend ?? ExecutionBackend.LOCAL,
    source: { type: SourceType.LOCAL, params: { path: '/nowhere.csv' }, filePattern: null, schemaInference: true },
    destination: { schema: 'public', table: 'scheduled' },
    processing: {
      mode: ProcessingMode.BATCH,
      format: DataFormat.CSV,
      batchSize: 100,
      checkpointEnabled: false,
      watermarkSeconds: null,
      triggerIntervalSeconds: null,
    },
    compute: {
      clusterMode: ClusterMode.SINGLE_NODE,
      instanceType: InstanceType.STANDARD,
      minWorkers: 1,
      maxWorkers: 1,
      autoscaling: false,
      photon: false,
      adaptiveQueryExecution: false,
      dynamicPartitionPruning: false,
      costBasedOptimizer: false,
      sparkConf: null,
    },
    schedule: opts.schedule ?? null,
    nextRunAt: opts.nextRunAt ?? null,
    maxAttempts: 3,
  });
  await em.flush();
  return job.id;
}

const runsOf = (jobId: string) => db.orm.em.fork().find(RunEntity, { jobId }, { orderBy: { number: 'asc' } });
const jobRow = (jobId: string) => db.orm.em.fork().findOneOrFail(JobEntity, { id: jobId });

/** Makes a schedule due again, as the clock passing its next fire time would. */
async function makeDue(jobId: string) {
  await db.orm.em.fork().nativeUpdate(JobEntity, { id: jobId }, { nextRunAt: new Date(Date.now() - 1000) });
}

beforeAll(async () => {
  const database = await createTestDatabase('scheduler');
  disposables.defer(() => database.drop());
  bus = disposables.add(await makeRedisBus(REDIS_URL, uniqueRedisPrefix('scheduler')), (b) => b.close());
  config = loadConfig({}, { schedulerIntervalMs: 20, retryBaseDelayMs: 100, retryMaxDelayMs: 200 });
  gateways = [];
  for (const name of ['gw-a', 'gw-b']) {
    const gdb = disposables.add(await openPostgres(database.url, { poolSize: 4 }), (d) => d.close());
    const gRunEvents = new RunEventsService({
      orm: gdb.orm,
      bus,
      logger,
      retry: { baseDelayMs: config.retryBaseDelayMs, maxDelayMs: config.retryMaxDelayMs },
    });
    const scheduler = makeScheduler({
      runEvents: gRunEvents,
      backends: new BackendRegistry([makeLocalBackend(), kafkaBackend]),
      config,
      logger,
      instanceId: name,
    });
    gateways.push({ db: gdb, runEvents: gRunEvents, scheduler });
  }
  db = gateways[0].db;
  runEvents = gateways[0].runEvents;
  for (const g of gateways) {
    disposables.defer(() => g.scheduler.stop());
    await g.scheduler.start();
  }
});

afterAll(() => disposables.disposeAll());

/** Cancels every QUEUED run of `jobId` as soon as it appears, so the next fire time is not skipped. */
function finishRunsOf(jobId: string): () => void {
  let on = true;
  void (async () => {
    while (on) {
      for (const r of await runsOf(jobId)) {
        if (r.status === RunStatus.QUEUED) await runEvents.apply({ runId: r.id, type: 'run.cancel', payload: { force: true } });
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return () => (on = false);
}

describe('scheduler', () => {
  it('with two gateways, starts exactly one run per fire time', async () => {
    const jobId = await createJob({ schedule: yearly, nextRunAt: new Date(Date.now() - 1000) });
    const stop = finishRunsOf(jobId);
    try {
      for (let fire = 1; fire <= 5; fire++) {
        if (fire > 1) await makeDue(jobId);
        await waitFor(async () => (await jobRow(jobId)).nextRunAt!.getTime() > Date.now(), `fire ${fire} to be handled`);
        // Both gateways get several more passes at the same fire time.
        await new Promise((r) => setTimeout(r, 100));
        expect(await runsOf(jobId)).toHaveLength(fire);
      }
      const runs = await runsOf(jobId);
      expect(runs.map((r) => r.number)).toEqual([1, 2, 3, 4, 5]);
      expect(runs.every((r) => r.trigger === RunTrigger.SCHEDULE)).toBe(true);
      const next = (await jobRow(jobId)).nextRunAt!;
      expect(next.toISOString()).toMatch(/-01-01T00:00:00.000Z$/);
    } finally {
      stop();
    }
  });

  it('with two gateways, fires each of many due jobs once', async () => {
    const jobIds: string[] = [];
    for (let i = 0; i < 20; i++) jobIds.push(await createJob({ schedule: yearly, nextRunAt: new Date(Date.now() - 1000) }));
    await waitFor(async () => {
      const jobs = await db.orm.em.fork().find(JobEntity, { id: { $in: jobIds } });
      return jobs.every((j) => j.nextRunAt!.getTime() > Date.now());
    }, 'every job to be fired');
    await new Promise((r) => setTimeout(r, 100));
    const runs = await db.orm.em.fork().find(RunEntity, { jobId: { $in: jobIds } });
    expect(runs).toHaveLength(20);
    expect(new Set(runs.map((r) => r.jobId)).size).toBe(20);
  });

  it('fires a schedule that missed fire times once, then moves on to the next future time', async () => {
    const jobId = await createJob({ schedule: everyMinute, nextRunAt: new Date(Date.now() - 3600_000) });
    await waitFor(async () => (await runsOf(jobId)).length > 0, 'the catch-up run');
    await new Promise((r) => setTimeout(r, 150));
    expect(await runsOf(jobId)).toHaveLength(1);
    const next = (await jobRow(jobId)).nextRunAt!;
    expect(next.getTime()).toBeGreaterThan(Date.now());
    expect(next.getTime()).toBeLessThanOrEqual(Date.now() + 60_000);
  });

  it('skips a fire time while the job still has an active run, and still advances the schedule', async () => {
    const jobId = await createJob({ schedule: yearly });
    const { run: active } = await runEvents.createRun(jobId, RunTrigger.MANUAL);
    expect(active.status).toBe(RunStatus.QUEUED);
    await makeDue(jobId);
    await waitFor(async () => (await jobRow(jobId)).nextRunAt!.getTime() > Date.now(), 'the fire time to be handled');
    await new Promise((r) => setTimeout(r, 100));
    const runs = await runsOf(jobId);
    expect(runs.map((r) => r.id)).toEqual([active.id]);
  });

  it('hands scheduled runs of other backends to their backend, once', async () => {
    const jobId = await createJob({ schedule: yearly, nextRunAt: new Date(Date.now() - 1000), backend: ExecutionBackend.KAFKA });
    await waitFor(async () => (await runsOf(jobId)).length > 0, 'the scheduled run');
    await new Promise((r) => setTimeout(r, 100));
    const [run] = await runsOf(jobId);
    expect(run.status).toBe(RunStatus.PENDING);
    expect(submitted.filter((r) => r.id === run.id)).toHaveLength(1);
  });

  it('starts a due retry once, with two gateways', async () => {
    const jobIds = [await createJob(), await createJob(), await createJob({ backend: ExecutionBackend.KAFKA })];
    const runIds: string[] = [];
    for (const jobId of jobIds) runIds.push((await runEvents.createRun(jobId, RunTrigger.MANUAL)).run.id);
    const queued: RunView[] = [];
    const sub = await bus.subscribe(Topic.RUN_STATUS);
    void (async () => {
      for await (const v of sub) if (runIds.includes(v.id) && v.attempt === 2) queued.push(v);
    })();
    try {
      for (const runId of runIds) {
        await runEvents.apply({ runId, type: 'run.status', payload: { status: RunStatus.RUNNING } });
        const failed = await runEvents.apply({
          runId,
          type: 'run.status',
          payload: { status: RunStatus.FAILED, error: { message: 'connection reset', kind: ErrorKind.TRANSIENT, details: null } },
        });
        expect(failed.run.nextRetryAt).not.toBeNull();
      }
      await waitFor(async () => {
        const runs = await db.orm.em.fork().find(RunEntity, { id: { $in: runIds } });
        return runs.every((r) => r.attempt === 2);
      }, 'every retry to start');
      await new Promise((r) => setTimeout(r, 200));
      const runs = await db.orm.em.fork().find(RunEntity, { id: { $in: runIds } });
      for (const r of runs) {
        expect(r.attempt).toBe(2);
        expect(r.attempts).toHaveLength(2);
        expect(r.status).toBe(r.backend === ExecutionBackend.LOCAL ? RunStatus.QUEUED : RunStatus.PENDING);
        expect(r.nextRetryAt).toBeNull();
      }
      // One status change to attempt 2 per run, seen by subscribers.
      expect(queued.map((v) => v.id).sort()).toEqual([...runIds].sort());
      const kafkaRun = runs.find((r) => r.backend === ExecutionBackend.KAFKA)!;
      expect(submitted.filter((r) => r.id === kafkaRun.id && r.attempt === 2)).toHaveLength(1);
    } finally {
      sub.close();
    }
  });
});
