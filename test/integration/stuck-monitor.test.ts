import { BackendRegistry, type Backend, type Reconciliation } from '../../src/backends/backend';
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
} from '../../src/domain';
import { makeRedisBus, type EventBus } from '../../src/events/bus';
import { Topic } from '../../src/events/topics';
import { makeLogger } from '../../src/logger';
import { checkLease, claimQueuedLocalRuns } from '../../src/runs/run-leases';
import { RunEventsService } from '../../src/runs/run-events.service';
import type { Loop } from '../../workers/loop';
import { makeScheduler } from '../../workers/scheduler';
import { makeStuckMonitor } from '../../workers/stuck-monitor';
import { createTestDatabase, REDIS_URL, uniqueRedisPrefix } from '../helpers/db';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';

const disposables = new Disposables();
const logger = makeLogger((process.env.TEST_LOG_LEVEL as 'silent') ?? 'silent');
let config: Readonly<Config>;
let bus: EventBus;
let gateways: { db: Database; runEvents: RunEventsService }[];
let db: Database;
let runEvents: RunEventsService;

/** What the fake KAFKA backend answers about each run (its workers report through Kafka normally). */
const kafkaAnswers = new Map<string, Reconciliation>();
const kafkaBackend: Backend = {
  kind: ExecutionBackend.KAFKA,
  unavailableReason: () => null,
  submit: async () => undefined,
  cancel: async () => undefined,
  reconcile: async (run) => kafkaAnswers.get(run.id) ?? { state: 'alive' },
};
const backends = new BackendRegistry([makeLocalBackend(), kafkaBackend]);

async function createJob(backend: ExecutionBackend = ExecutionBackend.LOCAL): Promise<string> {
  const em = db.orm.em.fork();
  const job = em.create(JobEntity, {
    name: 'watched',
    backend,
    source: { type: SourceType.LOCAL, params: { path: '/nowhere.csv' }, filePattern: null, schemaInference: true },
    destination: { schema: 'public', table: 'watched' },
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
    maxAttempts: 3,
  });
  await em.flush();
  return job.id;
}

/** A LOCAL run claimed by a gateway that then dies: its lease is never renewed. */
async function runOfDeadGateway(leaseMs = 150): Promise<string> {
  const { run } = await runEvents.createRun(await createJob(), RunTrigger.MANUAL);
  await runEvents.transact(async (tx) => {
    const ids = await claimQueuedLocalRuns(tx.em, { instanceId: 'dead-gateway', leaseMs, limit: 10 });
    expect(ids).toEqual([run.id]);
    await tx.apply({ runId: run.id, type: 'run.status', payload: { status: RunStatus.RUNNING } });
  });
  return run.id;
}

async function kafkaRun(status: RunStatus.RUNNING | RunStatus.CANCELLING = RunStatus.RUNNING): Promise<string> {
  const { run } = await runEvents.createRun(await createJob(ExecutionBackend.KAFKA), RunTrigger.MANUAL);
  await runEvents.apply({ runId: run.id, type: 'run.status', payload: { status: RunStatus.RUNNING, externalId: `kafka-${run.id}` } });
  if (status === RunStatus.CANCELLING) await runEvents.apply({ runId: run.id, type: 'run.cancel', payload: { force: false } });
  return run.id;
}

const readRun = (id: string) => db.orm.em.fork().findOneOrFail(RunEntity, { id });

/** Starts loops for the test and stops them when it ends. */
const running: Loop[] = [];
async function start(...loops: Loop[]) {
  for (const l of loops) {
    running.push(l);
    await l.start();
  }
}
afterEach(async () => {
  await Promise.all(running.splice(0).map((l) => l.stop()));
  // Nothing a test left queued may be claimed by the next one's dead gateway.
  for (const r of await db.orm.em.fork().find(RunEntity, { status: RunStatus.QUEUED })) {
    await runEvents.apply({ runId: r.id, type: 'run.cancel', payload: { force: true } });
  }
});

function monitor(i = 0) {
  const g = gateways[i];
  return makeStuckMonitor({ runEvents: g.runEvents, backends, config, logger, instanceId: `monitor-${i}` });
}

beforeAll(async () => {
  const database = await createTestDatabase('stuck');
  disposables.defer(() => database.drop());
  bus = disposables.add(await makeRedisBus(REDIS_URL, uniqueRedisPrefix('stuck')), (b) => b.close());
  config = loadConfig(
    {},
    {
      stuckCheckIntervalMs: 50,
      stuckThresholdMs: 300,
      schedulerIntervalMs: 50,
      localLeaseMs: 500,
      retryBaseDelayMs: 100,
      retryMaxDelayMs: 200,
    },
  );
  gateways = [];
  for (let i = 0; i < 2; i++) {
    const gdb = disposables.add(await openPostgres(database.url, { poolSize: 4 }), (d) => d.close());
    gateways.push({
      db: gdb,
      runEvents: new RunEventsService({ orm: gdb.orm, bus, logger, retry: { baseDelayMs: 100, maxDelayMs: 200 } }),
    });
  }
  ({ db, runEvents } = gateways[0]);
});

afterAll(() => disposables.disposeAll());

describe('stuck-run monitor', () => {
  it('fails a LOCAL run whose gateway died (lease expired) TRANSIENT, and the scheduler retries it', async () => {
    const runId = await runOfDeadGateway();
    await start(monitor(), makeScheduler({ runEvents, backends, config, logger, instanceId: 'scheduler' }));
    const retried = await waitFor(async () => {
      const r = await readRun(runId);
      return r.attempt === 2 ? r : null;
    }, 'the run to be retried');
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
    void (async () => {
      for await (const v of sub) if (runIds.includes(v.id) && v.status === RunStatus.FAILED) failedMessages.push(v);
    })();
    try {
      await start(monitor(0), monitor(1));
      await waitFor(async () => {
        const runs = await db.orm.em.fork().find(RunEntity, { id: { $in: runIds } });
        return runs.every((r) => r.status === RunStatus.FAILED);
      }, 'every dead run to fail');
      // Several more passes of both monitors.
      await new Promise((r) => setTimeout(r, 300));
      expect(failedMessages.map((v) => v.id).sort()).toEqual([...runIds].sort());
      for (const id of runIds) {
        const r = await readRun(id);
        expect(r.attempts).toHaveLength(1);
        expect(r.attempts[0].error).toMatchObject({ kind: ErrorKind.TRANSIENT });
        expect(r.nextRetryAt).not.toBeNull();
      }
    } finally {
      sub.close();
    }
  });

  it('leaves alone runs that are updated, and LOCAL runs whose executor renews its lease', async () => {
    const busyKafka = await kafkaRun();
    kafkaAnswers.set(busyKafka, { state: 'lost', message: 'no such consumer' }); // would fail it if it were silent
    const renewed = await runOfDeadGateway(500);
    await start(monitor());
    const until = Date.now() + 1200;
    while (Date.now() < until) {
      await runEvents.apply({
        runId: busyKafka,
        type: 'run.metrics',
        payload: { recordsProcessed: 1, recordsFailed: 0, throughputRps: 1, bytesProcessed: 1, activeWorkers: 1 },
      });
      await runEvents.transact((tx) => checkLease(tx.em, { runId: renewed, instanceId: 'dead-gateway', renewMs: 500 }));
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await readRun(busyKafka)).status).toBe(RunStatus.RUNNING);
    expect((await readRun(renewed)).status).toBe(RunStatus.RUNNING);
    // Once the lease is no longer renewed, the LOCAL run is failed.
    await waitFor(async () => (await readRun(renewed)).status === RunStatus.FAILED, 'the abandoned run to fail');
  });

  it('reconciles silent runs with their backend: lost → FAILED TRANSIENT, finished → that status, alive → untouched', async () => {
    const lost = await kafkaRun();
    const finished = await kafkaRun();
    const alive = await kafkaRun();
    const stopping = await kafkaRun(RunStatus.CANCELLING);
    kafkaAnswers.set(lost, { state: 'lost', message: 'no consumer owns it' });
    kafkaAnswers.set(finished, { state: 'finished', status: 'SUCCEEDED', message: 'done per the worker' });
    kafkaAnswers.set(alive, { state: 'alive' });
    kafkaAnswers.set(stopping, { state: 'lost', message: 'no consumer owns it' });
    await start(monitor());
    await waitFor(async () => (await readRun(lost)).status === RunStatus.FAILED, 'the lost run to fail');
    await waitFor(async () => (await readRun(finished)).status === RunStatus.SUCCEEDED, 'the finished run to succeed');
    await waitFor(async () => (await readRun(stopping)).status === RunStatus.CANCELLED, 'the stopping run to be cancelled');
    const failed = await readRun(lost);
    expect(failed.error).toMatchObject({ kind: ErrorKind.TRANSIENT, details: 'no consumer owns it' });
    expect(failed.error!.message).toMatch(/^no update for \d+ s; the KAFKA backend lost it$/);
    expect(failed.nextRetryAt).not.toBeNull();
    expect((await readRun(stopping)).nextRetryAt).toBeNull();
    expect((await readRun(alive)).status).toBe(RunStatus.RUNNING);
  });

  it('leaves LOCAL runs waiting in the queue alone, however long they wait', async () => {
    const { run } = await runEvents.createRun(await createJob(), RunTrigger.MANUAL);
    await start(monitor());
    await new Promise((r) => setTimeout(r, 600));
    const r = await readRun(run.id);
    expect(r.status).toBe(RunStatus.QUEUED);
    expect(r.attempt).toBe(1);
  });
});
