/**
 * What the core promises users, over the API, on real PostgreSQL and Redis: idempotency keys on
 * every mutation (also under concurrent calls), RETRY_MAX_ATTEMPTS for jobs that set none, a forced
 * stop that leaves no stage running, and stall detection pushed to subscribers and counted.
 * Workers are off: the test moves runs through the run-event service, as a backend would.
 */
import crypto from 'node:crypto';
import type { App } from '../../src/app';
import { ErrorKind, RunStatus, StageStatus } from '../../src/domain';
import {
  CreateJobDocument,
  JobStatsDocument,
  RetryRunDocument,
  RunDocument,
  RunUpdatedDocument,
  StartJobDocument,
  StopRunDocument,
  type CreateJobInput,
} from '../../client/generated/graphql';
import { startTestApp } from '../helpers/app';
import { createTestDatabase, uniqueRedisPrefix } from '../helpers/db';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';
import { gql, ok, onlyError } from '../helpers/http';
import { createWsClient } from '../helpers/ws-client';

const disposables = new Disposables();
let app: App;
let url: string;

beforeAll(async () => {
  const db = await createTestDatabase('coreapi');
  disposables.defer(() => db.drop());
  app = await startTestApp({ databaseUrl: db.url, redisPrefix: uniqueRedisPrefix('coreapi'), workers: false, retryMaxAttempts: 5 });
  disposables.defer(() => app.stop());
  url = `${app.url}/graphql`;
});
afterAll(() => disposables.disposeAll());

const jobInput = (over: Partial<CreateJobInput> = {}): CreateJobInput => ({
  name: `core-${crypto.randomBytes(3).toString('hex')}`,
  source: { type: 'LOCAL', params: { path: '/data/in/orders.csv' } },
  destination: { schema: 'public', table: 'orders' },
  ...over,
});
const createJob = async (over: Partial<CreateJobInput> = {}) => ok(await gql(url, CreateJobDocument, { input: jobInput(over) })).createJob;
const startRun = async (over: Partial<CreateJobInput> = {}) => {
  const job = await createJob(over);
  return ok(await gql(url, StartJobDocument, { id: job.id })).startJob;
};
const countJobs = async (name: string) =>
  (await app.db.sql.query<{ n: number }>('select count(*)::int as n from jobs where name = $1', [name]))[0].n;
const failTransient = (runId: string) =>
  app.runEvents.apply({
    type: 'run.status',
    runId,
    payload: { status: RunStatus.FAILED, error: { message: 'connection reset', kind: ErrorKind.TRANSIENT, details: null } },
  });

describe('idempotency keys on every mutation', () => {
  it('createJob: ten concurrent calls with one key make one job, and every call answers with it', async () => {
    const input = jobInput();
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => gql(url, CreateJobDocument, { input, idempotencyKey: `create-${input.name}` })),
    );
    const ids = new Set(answers.map((a) => ok(a).createJob.id));
    expect(ids.size).toBe(1);
    expect(await countJobs(input.name)).toBe(1);
    // A different key is a different job.
    await gql(url, CreateJobDocument, { input, idempotencyKey: `other-${input.name}` });
    expect(await countJobs(input.name)).toBe(2);
  });

  it('stopRun: the same key again returns the run and does nothing again (no CONFLICT for the repeat)', async () => {
    const run = await startRun();
    const key = `stop-${run.id}`;
    const answers = await Promise.all(Array.from({ length: 5 }, () => gql(url, StopRunDocument, { id: run.id, idempotencyKey: key })));
    for (const a of answers) expect(ok(a).stopRun).toMatchObject({ id: run.id, status: RunStatus.CANCELLED });
    // Without the key, stopping a finished run is a CONFLICT; with it, the first call's answer.
    expect(onlyError(await gql(url, StopRunDocument, { id: run.id })).extensions?.code).toBe('CONFLICT');
    expect(ok(await gql(url, StopRunDocument, { id: run.id, idempotencyKey: key })).stopRun.status).toBe(RunStatus.CANCELLED);
  });

  it('stopRun: a refused call (the run already finished) records no key', async () => {
    const run = await startRun();
    await app.runEvents.apply({ type: 'run.cancel', runId: run.id, payload: { force: true } });
    const key = `late-${run.id}`;
    expect(onlyError(await gql(url, StopRunDocument, { id: run.id, idempotencyKey: key })).extensions?.code).toBe('CONFLICT');
    expect(onlyError(await gql(url, StopRunDocument, { id: run.id, idempotencyKey: key })).extensions?.code).toBe('CONFLICT');
  });

  it('retryRun: five concurrent calls with one key start one attempt', async () => {
    const run = await startRun({ maxAttempts: 1 });
    await failTransient(run.id);
    const key = `retry-${run.id}`;
    const answers = await Promise.all(Array.from({ length: 5 }, () => gql(url, RetryRunDocument, { id: run.id, idempotencyKey: key })));
    for (const a of answers) expect(ok(a).retryRun).toMatchObject({ id: run.id, attempt: 2 });
    const after = ok(await gql(url, RunDocument, { id: run.id })).run!;
    expect(after.attempt).toBe(2);
    expect(after.attempts).toHaveLength(2);
  });

  it('refuses an empty key naming idempotencyKey', async () => {
    const err = onlyError(await gql(url, CreateJobDocument, { input: jobInput(), idempotencyKey: ' ' }));
    expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'idempotencyKey' });
  });
});

describe('defaults and stops', () => {
  it('RETRY_MAX_ATTEMPTS applies to every job that sets no maxAttempts; a job that sets it keeps its own', async () => {
    const byDefault = await createJob();
    const own = await createJob({ maxAttempts: 2 });
    expect([byDefault.maxAttempts, own.maxAttempts]).toEqual([5, 2]);
    const run = ok(await gql(url, StartJobDocument, { id: byDefault.id })).startJob;
    const stored = await app.db.sql.query<{ maxAttempts: number }>('select max_attempts as "maxAttempts" from runs where id = $1', [
      run.id,
    ]);
    expect(stored[0].maxAttempts).toBe(5);
  });

  it('stopRun(force: true) ends every stage that is not finished: none is left RUNNING', async () => {
    const run = await startRun();
    await app.runEvents.applyBatch([
      { type: 'run.status', runId: run.id, payload: { status: RunStatus.RUNNING } },
      {
        type: 'stage.progress',
        runId: run.id,
        payload: { stage: 'extract', totalItems: 10, completedItems: 10, status: StageStatus.COMPLETED },
      },
      { type: 'stage.progress', runId: run.id, payload: { stage: 'load', totalItems: 10, completedItems: 4 } },
    ]);
    const stopped = ok(await gql(url, StopRunDocument, { id: run.id, force: true })).stopRun;
    expect(stopped.status).toBe(RunStatus.CANCELLED);
    expect(stopped.stages.map((s) => [s.name, s.status])).toEqual([
      ['extract', 'COMPLETED'],
      ['load', 'SKIPPED'],
    ]);
    expect(stopped.progress).toBeLessThan(1);
  });
});

describe('stall detection', () => {
  it('flags a RUNNING run whose counters stopped moving: stalledSince pushed on runUpdated, counted in jobStats, cleared by progress', async () => {
    const run = await startRun({ stallTimeoutSeconds: 1 });
    await app.runEvents.apply({ type: 'run.status', runId: run.id, payload: { status: RunStatus.RUNNING } });
    const ws = disposables.add(await createWsClient(`${app.url.replace(/^http/, 'ws')}/graphql`), (c) => c.dispose());
    const sub = ws.subscribe(RunUpdatedDocument, { runId: run.id });
    expect((await sub.next()).data!.runUpdated.stalledSince).toBeNull();
    // Nothing moves for the stall timeout; then the stall check (the scheduler's step) runs.
    const stallAt = (await app.db.sql.query<{ stallAt: Date }>('select stall_at as "stallAt" from runs where id = $1', [run.id]))[0]
      .stallAt;
    await waitFor(() => Date.now() > stallAt.getTime(), 'the stall deadline to pass', 5000, 20);
    const flagged = await app.core.liveness.flagStalls(100);
    expect(flagged.map((r) => r.id)).toContain(run.id);
    const pushed = (await sub.next()).data!.runUpdated;
    expect(pushed.status).toBe(RunStatus.RUNNING);
    expect(Date.parse(pushed.stalledSince!)).toBe(stallAt.getTime());
    expect(ok(await gql(url, JobStatsDocument)).jobStats.stalled).toBeGreaterThanOrEqual(1);
    // A counter moves: no longer stalled.
    await app.runEvents.apply({ type: 'stage.progress', runId: run.id, payload: { stage: 'load', increment: 1 } });
    const moving = (await sub.next()).data!.runUpdated;
    expect(moving.stalledSince).toBeNull();
    sub.dispose();
  });

  it('onStall RETRY fails the stalled attempt TRANSIENT, so it is retried', async () => {
    const run = await startRun({ stallTimeoutSeconds: 1, onStall: 'RETRY' });
    await app.runEvents.apply({ type: 'run.status', runId: run.id, payload: { status: RunStatus.RUNNING } });
    await waitFor(async () => (await app.core.liveness.flagStalls(100)).some((r) => r.id === run.id), 'the run to stall', 5000, 100);
    const after = ok(await gql(url, RunDocument, { id: run.id })).run!;
    expect(after.status).toBe(RunStatus.FAILED);
    expect(after.error).toMatchObject({ kind: 'TRANSIENT', message: 'stalled: no counter moved for 1 s' });
  });
});
