/**
 * The stuck-run monitor of two gateways on one PostgreSQL and Redis. Time is the services' clock,
 * moved by the test; the monitors' and schedulers' passes are driven with `tick()`, so every
 * assertion follows passes that really ran at a known time.
 */
import type { Backend, Reconciliation } from '../../src/backends/backend';
import { ENGINE_SOURCES } from '../../src/backends/backend';
import { makeLocalBackend } from '../../src/backends/local/local.backend';
import { loadConfig, type Config } from '../../src/config';
import { TEST_SOURCE_ACCESS } from '../helpers/source-access';
import type { Core } from '../../src/core';
import { RunEntity } from '../../src/db/entities';
import { openPostgres, type Database } from '../../src/db/orm';
import { ErrorKind, ExecutionBackend, RunStatus, RunTrigger, SourceType, type RunView } from '../../src/domain';
import { makeRedisBus, type EventBus } from '../../src/events/bus';
import { Topic } from '../../src/events/topics';
import { makeLogger } from '../../src/logger';
import { DEFAULT_POLICIES } from '../../src/runs/run-apply';
import { makeScheduler } from '../../workers/scheduler';
import { makeStuckMonitor } from '../../workers/stuck-monitor';
import { testCore } from '../helpers/core';
import { createTestDatabase, REDIS_URL, uniqueRedisPrefix } from '../helpers/db';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';

const disposables = new Disposables();
const logger = makeLogger((process.env.TEST_LOG_LEVEL as 'silent') ?? 'silent');
let config: Readonly<Config>;
let bus: EventBus;
let gateways: { db: Database; core: Core }[];
let db: Database;
let core: Core;

/** The services' clock: the test moves it. */
let clock = Date.now();
const now = () => new Date(clock);
const advance = (ms: number) => (clock += ms);

/** What the fake KAFKA backend answers about each run (its workers report through Kafka normally). */
const kafkaAnswers = new Map<string, Reconciliation>();
const kafkaBackend: Backend = {
  kind: ExecutionBackend.KAFKA,
  policy: DEFAULT_POLICIES.KAFKA,
  sources: ENGINE_SOURCES,
  unavailableReason: () => null,
  submit: async () => ({}),
  cancel: async () => undefined,
  reconcile: async (run) => kafkaAnswers.get(run.id) ?? { state: 'alive' },
};

async function createJob(backend: ExecutionBackend = ExecutionBackend.LOCAL): Promise<string> {
  const job = await core.jobs.create({
    name: 'watched',
    backend,
    source: { type: SourceType.LOCAL, params: { path: '/nowhere.csv' } },
    destination: { schema: 'public', table: 'watched' },
    maxAttempts: 3,
  });
  return job.id;
}

/** A LOCAL run claimed by a gateway that then dies: its lease is never renewed. */
async function runOfDeadGateway(leaseMs = 150): Promise<string> {
  const { run } = await core.runEvents.createRun(await createJob(), RunTrigger.MANUAL);
  const claimed = await core.localQueue.claim({ owner: 'dead-gateway', leaseMs, limit: 10 });
  expect(claimed.map((c) => c.run.id)).toEqual([run.id]);
  return run.id;
}

async function kafkaRun(status: RunStatus.RUNNING | RunStatus.CANCELLING = RunStatus.RUNNING): Promise<string> {
  const { run } = await core.runEvents.createRun(await createJob(ExecutionBackend.KAFKA), RunTrigger.MANUAL);
  await core.runEvents.apply({ runId: run.id, type: 'run.status', payload: { status: RunStatus.RUNNING, externalId: `kafka-${run.id}` } });
  if (status === RunStatus.CANCELLING) await core.runEvents.apply({ runId: run.id, type: 'run.cancel', payload: { force: false } });
  return run.id;
}

const readRun = (id: string) => db.orm.em.fork().findOneOrFail(RunEntity, { id });

const monitor = (i = 0) =>
  makeStuckMonitor({ ...gateways[i].core, retention: gateways[i].core.runEvents, config, logger, instanceId: `monitor-${i}` });

afterEach(async () => {
  // Nothing a test left queued may be claimed by the next one's dead gateway.
  for (const r of await db.orm.em.fork().find(RunEntity, { status: RunStatus.QUEUED })) {
    await core.runEvents.apply({ runId: r.id, type: 'run.cancel', payload: { force: true } });
  }
});

beforeAll(async () => {
  const database = await createTestDatabase('stuck');
  disposables.defer(() => database.drop());
  bus = disposables.add(await makeRedisBus(REDIS_URL, uniqueRedisPrefix('stuck')), (b) => b.close());
  config = loadConfig({}, { ...TEST_SOURCE_ACCESS, stuckThresholdMs: 300, localLeaseMs: 500, retryBaseDelayMs: 100, retryMaxDelayMs: 200 });
  gateways = [];
  for (let i = 0; i < 2; i++) {
    const gdb = disposables.add(await openPostgres(database.url, { poolSize: 4 }), (d) => d.close());
    gateways.push({ db: gdb, core: testCore(gdb, bus, { logger, config, now, backends: [makeLocalBackend(), kafkaBackend] }) });
  }
  ({ db, core } = gateways[0]);
});

afterAll(() => disposables.disposeAll());

describe('stuck-run monitor', () => {
  it('fails a LOCAL run whose gateway died (lease expired) TRANSIENT, and the scheduler retries it', async () => {
    const runId = await runOfDeadGateway();
    const scheduler = makeScheduler({ ...core, config, logger, instanceId: 'scheduler' });
    await monitor().tick();
    expect((await readRun(runId)).status).toBe(RunStatus.RUNNING); // the lease still runs
    advance(200);
    await monitor().tick();
    const failed = await readRun(runId);
    expect(failed.status).toBe(RunStatus.FAILED);
    advance(300); // the back-off (at most 200 ms)
    await scheduler.tick();
    const retried = await readRun(runId);
    expect(retried.attempt).toBe(2);
    expect(retried.status).toBe(RunStatus.QUEUED);
    expect(retried.attempts[0]).toMatchObject({
      attempt: 1,
      status: RunStatus.FAILED,
      error: { message: 'executor lease expired', kind: ErrorKind.TRANSIENT },
    });
    expect(retried.leaseOwner).toBeNull();
  });

  it('with two monitors, handles a dead run once', async () => {
    const runIds = [await runOfDeadGateway(), await runOfDeadGateway(), await runOfDeadGateway()];
    const failedMessages: RunView[] = [];
    const sub = await bus.subscribe(Topic.RUN_STATUS);
    const seen = (async () => {
      for await (const v of sub) if (runIds.includes(v.id) && v.status === RunStatus.FAILED) failedMessages.push(v);
    })();
    try {
      advance(200);
      for (let pass = 0; pass < 3; pass++) await Promise.all([monitor(0).tick(), monitor(1).tick()]);
      const runs = await db.orm.em.fork().find(RunEntity, { id: { $in: runIds } });
      expect(runs.every((r) => r.status === RunStatus.FAILED)).toBe(true);
      await waitFor(() => failedMessages.length >= runIds.length, 'the FAILED messages');
      expect(failedMessages.map((v) => v.id).sort()).toEqual([...runIds].sort());
      for (const r of runs) {
        expect(r.attempts).toHaveLength(1);
        expect(r.attempts[0].error).toMatchObject({ kind: ErrorKind.TRANSIENT });
        expect(r.nextRetryAt).not.toBeNull();
      }
    } finally {
      sub.close();
      await seen;
    }
  });

  it('leaves alone runs that are updated, and LOCAL runs whose executor renews its lease', async () => {
    const busyKafka = await kafkaRun();
    kafkaAnswers.set(busyKafka, { state: 'lost', message: 'no such consumer' }); // would fail it if it were silent
    const renewed = await runOfDeadGateway(500);
    for (let step = 0; step < 12; step++) {
      advance(100);
      await core.runEvents.apply({ runId: busyKafka, type: 'run.heartbeat', payload: {} });
      await core.localQueue.renew('dead-gateway', [renewed], 500);
      await monitor().tick();
    }
    expect((await readRun(busyKafka)).status).toBe(RunStatus.RUNNING);
    expect((await readRun(renewed)).status).toBe(RunStatus.RUNNING);
    // Once the lease is no longer renewed, the LOCAL run is failed; once the worker is silent, the KAFKA one.
    advance(600);
    await monitor().tick();
    expect((await readRun(renewed)).status).toBe(RunStatus.FAILED);
    expect((await readRun(busyKafka)).status).toBe(RunStatus.FAILED);
  });

  it('reconciles silent runs with their backend: lost → FAILED TRANSIENT, finished → that status, alive → untouched', async () => {
    const lost = await kafkaRun();
    const finished = await kafkaRun();
    const alive = await kafkaRun();
    const stopping = await kafkaRun(RunStatus.CANCELLING);
    kafkaAnswers.set(lost, { state: 'lost', message: 'no consumer owns it' });
    kafkaAnswers.set(finished, { state: 'finished', status: RunStatus.SUCCEEDED, message: 'done per the worker' });
    kafkaAnswers.set(alive, { state: 'alive' });
    kafkaAnswers.set(stopping, { state: 'lost', message: 'no consumer owns it' });
    advance(400);
    await monitor().tick();
    const failed = await readRun(lost);
    expect(failed.status).toBe(RunStatus.FAILED);
    expect(failed.error).toMatchObject({ kind: ErrorKind.TRANSIENT, details: 'no consumer owns it' });
    expect(failed.error!.message).toMatch(/^no update for \d+ s; the KAFKA backend lost it$/);
    expect(failed.nextRetryAt).not.toBeNull();
    expect((await readRun(finished)).status).toBe(RunStatus.SUCCEEDED);
    expect((await readRun(stopping)).status).toBe(RunStatus.CANCELLED);
    expect((await readRun(stopping)).nextRetryAt).toBeNull();
    const stillAlive = await readRun(alive);
    expect(stillAlive.status).toBe(RunStatus.RUNNING);
    // Alive per its backend: it is not asked about again until a threshold later.
    expect(stillAlive.aliveUntil!.getTime()).toBe(clock + config.stuckThresholdMs);
  });

  it('leaves LOCAL runs waiting in the queue alone, however long they wait', async () => {
    const { run } = await core.runEvents.createRun(await createJob(), RunTrigger.MANUAL);
    advance(24 * 3600_000);
    await monitor().tick();
    const r = await readRun(run.id);
    expect(r.status).toBe(RunStatus.QUEUED);
    expect(r.attempt).toBe(1);
  });
});
