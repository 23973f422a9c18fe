import { ErrorKind, ExecutionBackend, LogLevel, RunStatus, RunTrigger, StageStatus, StallAction } from '../../src/domain';
import { AppError } from '../../src/errors';
import type { CoreEvent } from '../../src/runs/core-events';
import {
  DEFAULT_POLICIES,
  MAX_UNFINISHED_PROGRESS,
  applyEvent,
  assignCursors,
  newRunState,
  type ApplyContext,
  type RunState,
} from '../../src/runs/run-apply';
import type { RunRow } from '../../src/runs/run-rows';

const T0 = Date.parse('2026-12-01T10:00:00.000Z');
let clock = T0;
const ctx = (): ApplyContext => ({
  now: new Date(clock),
  retry: { baseDelayMs: 1000, maxDelayMs: 60_000 },
  stuckThresholdMs: 300_000,
  policy: (kind) => DEFAULT_POLICIES[kind],
  random: () => 0.5,
});

function run(over: Partial<RunRow> = {}, job: Partial<RunState['job']> = {}): RunState {
  const row: RunRow = {
    id: '00000000-0000-4000-8000-000000000001',
    jobId: '00000000-0000-4000-8000-000000000002',
    number: 1,
    attempt: 1,
    maxAttempts: 3,
    trigger: RunTrigger.MANUAL,
    status: RunStatus.QUEUED,
    // A backend whose stages are not known in advance and are averaged: the plain rules.
    backend: ExecutionBackend.SPARK,
    externalId: null,
    engineState: null,
    lastProgressAt: null,
    stalledSince: null,
    stallTimeoutS: 60,
    progress: 0,
    metrics: null,
    error: null,
    attempts: [{ attempt: 1, status: RunStatus.QUEUED, startedAt: null, finishedAt: null, error: null }],
    deadLettered: false,
    stoppedBy: null,
    nextRetryAt: null,
    leaseOwner: null,
    leaseExpiresAt: null,
    aliveUntil: null,
    stallAt: null,
    logSeq: 0,
    eventSeq: 0,
    stateSeq: 0,
    metricsSeq: 0,
    version: 1,
    queuedAt: new Date(T0),
    startedAt: null,
    finishedAt: null,
    createdAt: new Date(T0),
    updatedAt: new Date(T0),
    ...over,
  };
  return newRunState(row, [], { retryDelaySeconds: null, isLatest: true, onStall: StallAction.NONE, ...job });
}

const apply = (s: RunState, e: Omit<CoreEvent, 'runId'>) => applyEvent(s, { runId: s.row.id, ...e } as CoreEvent, ctx());
const status = (s: RunState, st: RunStatus, extra: object = {}) => apply(s, { type: 'run.status', payload: { status: st, ...extra } });
const stage = (s: RunState, p: object) => apply(s, { type: 'stage.progress', payload: { stage: 'load', ...p } });
const metrics = (s: RunState, recordsProcessed: number, throughputRps = 10) =>
  apply(s, { type: 'run.metrics', payload: { recordsProcessed, recordsFailed: 0, throughputRps, bytesProcessed: 0, activeWorkers: 1 } });

beforeEach(() => {
  clock = T0;
});

describe('late stage counts', () => {
  it("apply to a SUCCEEDED run's known stages (absolute counts, finishing status), and nothing else after the end", () => {
    const s = run();
    status(s, RunStatus.RUNNING);
    stage(s, { totalItems: 4, completedItems: 3, status: StageStatus.RUNNING });
    status(s, RunStatus.SUCCEEDED);
    expect(s.row.progress).toBe(1);
    // The engine's last word on the stage, behind the run's end: it counts.
    expect(stage(s, { totalItems: 4, completedItems: 4, status: StageStatus.COMPLETED }).outcome).toBe('applied');
    expect(s.stages[0]).toMatchObject({ completedItems: 4, status: StageStatus.COMPLETED, progress: 1 });
    expect(s.row.progress).toBe(1);
    // Lower counts, increments and stages never seen before do not.
    expect(stage(s, { completedItems: 2 }).outcome).toBe('ignored');
    expect(stage(s, { increment: 1 }).outcome).toBe('ignored');
    expect(apply(s, { type: 'stage.progress', payload: { stage: 'other', totalItems: 1, completedItems: 1 } }).outcome).toBe('ignored');
    expect(s.stages).toHaveLength(1);
    // A run that FAILED keeps its stages as they were when it failed.
    const f = run();
    status(f, RunStatus.RUNNING);
    stage(f, { totalItems: 4, completedItems: 1 });
    status(f, RunStatus.FAILED, { error: { message: 'x', kind: ErrorKind.PERMANENT } });
    expect(stage(f, { totalItems: 4, completedItems: 4, status: StageStatus.COMPLETED }).outcome).toBe('ignored');
  });
});

describe('progress', () => {
  it('never moves backwards when an estimated total is corrected upwards', () => {
    const s = run();
    status(s, RunStatus.RUNNING);
    stage(s, { totalItems: 1000, totalIsEstimate: true, completedItems: 600 });
    expect(s.row.progress).toBeCloseTo(0.6);
    expect(s.stages[0].totalIsEstimate).toBe(true);
    stage(s, { totalItems: 2000, totalIsEstimate: true, completedItems: 700 }); // the estimate was too low
    expect(s.row.progress).toBeCloseTo(0.6);
    expect(s.stages[0].progress).toBeCloseTo(0.6);
    stage(s, { totalItems: 2000, totalIsEstimate: false, completedItems: 1600 });
    expect(s.row.progress).toBeCloseTo(0.8);
    expect(s.stages[0].totalIsEstimate).toBe(false);
  });

  it('stays below 1 while the run has not SUCCEEDED, even with every stage complete, and reads 1 once it has', () => {
    const s = run();
    status(s, RunStatus.RUNNING);
    stage(s, { totalItems: 10, completedItems: 10, status: StageStatus.COMPLETED });
    expect(s.stages[0].progress).toBe(1);
    expect(s.row.progress).toBe(MAX_UNFINISHED_PROGRESS);
    stage(s, { stage: 'extract', totalItems: 100, completedItems: 99 });
    expect(s.row.progress).toBeLessThan(1);
    status(s, RunStatus.SUCCEEDED);
    expect(s.row.progress).toBe(1);
    expect(s.stages.every((st) => st.status === StageStatus.COMPLETED)).toBe(true);
  });

  it('a failed run that read nothing reports what it did (0), not 1', () => {
    const s = run();
    status(s, RunStatus.RUNNING);
    for (const name of ['extract', 'transform', 'load'])
      apply(s, { type: 'stage.progress', payload: { stage: name, status: StageStatus.PENDING } });
    status(s, RunStatus.FAILED, { error: { message: 'no such file', kind: ErrorKind.PERMANENT, details: null } });
    expect(s.row.progress).toBe(0);
    expect(s.stages.map((st) => st.status)).toEqual([StageStatus.SKIPPED, StageStatus.SKIPPED, StageStatus.SKIPPED]);
  });
});

describe("progress of the backend's stages", () => {
  it('follows the slowest stage of a pipeline (the ingestion engine: a run is as far as its load)', () => {
    const s = run({ backend: ExecutionBackend.LOCAL });
    apply(s, { type: 'run.claim', payload: { owner: 'gw', leaseMs: 1000 } });
    stage(s, { stage: 'extract', totalItems: 100, completedItems: 100 });
    expect(s.row.progress).toBe(0); // transform and load have not started
    stage(s, { stage: 'transform', totalItems: 100, completedItems: 70 });
    stage(s, { stage: 'load', totalItems: 100, completedItems: 40 });
    expect(s.row.progress).toBeCloseTo(0.4);
  });

  it('averages stages that run one after the other (a Spark job)', () => {
    const s = run({ backend: ExecutionBackend.SPARK });
    status(s, RunStatus.RUNNING);
    stage(s, { stage: 'stage 0', totalItems: 10, completedItems: 6 });
    stage(s, { stage: 'stage 1', totalItems: 10, completedItems: 2 });
    expect(s.row.progress).toBeCloseTo(0.6); // stage 0 alone had reached 0.6: no step back when stage 1 appears
    stage(s, { stage: 'stage 0', completedItems: 10, status: StageStatus.COMPLETED });
    stage(s, { stage: 'stage 1', completedItems: 6 });
    expect(s.row.progress).toBeCloseTo(0.8);
  });
});

describe('lastProgressAt', () => {
  it('moves only when a counter moves: not for a metric sample that changes nothing, nor for a new total', () => {
    const s = run();
    status(s, RunStatus.RUNNING);
    metrics(s, 100);
    expect(s.row.lastProgressAt!.getTime()).toBe(T0);
    clock += 5000;
    metrics(s, 100, 0); // the same count, throughput 0
    stage(s, { totalItems: 500 });
    apply(s, { type: 'run.log', payload: { lines: [{ level: LogLevel.INFO, message: 'still here' }] } });
    expect(s.row.lastProgressAt!.getTime()).toBe(T0);
    clock += 5000;
    stage(s, { increment: 1 });
    expect(s.row.lastProgressAt!.getTime()).toBe(T0 + 10_000);
  });
});

describe('stall detection', () => {
  it('flags a RUNNING run whose counters did not move for its stall timeout, and clears the flag when one moves', () => {
    const s = run();
    status(s, RunStatus.RUNNING);
    expect(s.row.stallAt!.getTime()).toBe(T0 + 60_000);
    clock += 30_000;
    expect(apply(s, { type: 'run.stall', payload: {} })).toEqual({ outcome: 'ignored', reason: 'a counter moved since' });
    clock += 31_000;
    expect(apply(s, { type: 'run.stall', payload: {} })).toEqual({ outcome: 'applied' });
    expect(s.row.stalledSince!.getTime()).toBe(T0 + 60_000);
    expect(s.row.status).toBe(RunStatus.RUNNING); // onStall NONE: only the flag
    expect(s.row.stallAt).toBeNull();
    clock += 1000;
    stage(s, { increment: 5 });
    expect(s.row.stalledSince).toBeNull();
    expect(s.row.stallAt!.getTime()).toBe(clock + 60_000);
  });

  it('onStall RETRY fails the attempt TRANSIENT (a retry is scheduled); STOP moves it to CANCELLING and asks for the backend to stop it', () => {
    const retry = run({}, { onStall: StallAction.RETRY });
    status(retry, RunStatus.RUNNING);
    clock += 61_000;
    apply(retry, { type: 'run.stall', payload: {} });
    expect(retry.row.status).toBe(RunStatus.FAILED);
    expect(retry.row.error).toMatchObject({ kind: ErrorKind.TRANSIENT, message: 'stalled: no counter moved for 60 s' });
    expect(retry.row.nextRetryAt).not.toBeNull();
    expect(retry.row.stalledSince).toBeNull(); // it ended

    const stop = run({}, { onStall: StallAction.STOP });
    status(stop, RunStatus.RUNNING);
    clock += 61_000;
    apply(stop, { type: 'run.stall', payload: {} });
    expect(stop.row.status).toBe(RunStatus.CANCELLING);
    expect(stop.cancelRequested).toBe(true);
    expect(stop.row.stalledSince).not.toBeNull();
  });
});

describe('stopping and retrying', () => {
  it('a forced stop ends every stage that is not finished: none is left RUNNING', () => {
    const s = run();
    status(s, RunStatus.RUNNING);
    stage(s, { stage: 'extract', totalItems: 10, completedItems: 10, status: StageStatus.COMPLETED });
    stage(s, { stage: 'load', totalItems: 10, completedItems: 3 });
    stage(s, { stage: 'index', status: StageStatus.PENDING });
    apply(s, { type: 'run.cancel', payload: { force: true } });
    expect(s.row.status).toBe(RunStatus.CANCELLED);
    expect(s.stages.map((st) => [st.name, st.status])).toEqual([
      ['extract', StageStatus.COMPLETED],
      ['load', StageStatus.SKIPPED],
      ['index', StageStatus.SKIPPED],
    ]);
    expect(s.stages.every((st) => st.finishedAt !== null)).toBe(true);
  });

  it('refuses a stop of a finished run inside the transaction when asked to (CONFLICT, nothing changed)', () => {
    const s = run();
    status(s, RunStatus.SUCCEEDED);
    const version = s.row.version;
    expect(() => apply(s, { type: 'run.cancel', payload: { force: false, refuseFinished: true } })).toThrow(AppError);
    expect(s.row.version).toBe(version);
  });

  it('a hand-back returns a leased RUNNING run to the queue on the same attempt, from nothing', () => {
    const s = run({ backend: ExecutionBackend.LOCAL });
    apply(s, { type: 'run.claim', payload: { owner: 'gw-1', leaseMs: 30_000 } });
    stage(s, { totalItems: 10, completedItems: 4 });
    expect(apply(s, { type: 'run.requeue', payload: { owner: 'gw-2', reason: 'x' } }).outcome).toBe('ignored');
    expect(apply(s, { type: 'run.requeue', payload: { owner: 'gw-1', reason: 'stopping' } }).outcome).toBe('applied');
    expect(s.row).toMatchObject({ status: RunStatus.QUEUED, attempt: 1, leaseOwner: null, progress: 0, startedAt: null, aliveUntil: null });
    expect(s.stages).toEqual([]);
    expect(s.stagesReset).toBe(true);
  });
});

describe('liveness', () => {
  it('a queued LOCAL run is never due; a claimed one is due when its lease runs out; renewals move it', () => {
    const s = run({ backend: ExecutionBackend.LOCAL });
    apply(s, { type: 'run.heartbeat', payload: {} });
    expect(s.row.aliveUntil).toBeNull();
    apply(s, { type: 'run.claim', payload: { owner: 'gw-1', leaseMs: 30_000 } });
    expect(s.row.aliveUntil!.getTime()).toBe(T0 + 30_000);
    clock += 10_000;
    stage(s, { increment: 1 }); // progress does not extend a lease
    expect(s.row.aliveUntil!.getTime()).toBe(T0 + 30_000);
    apply(s, { type: 'run.lease', payload: { owner: 'gw-1', leaseMs: 30_000 } });
    expect(s.row.aliveUntil!.getTime()).toBe(T0 + 40_000);
  });

  it('a worker-driven run stays alive while anything is heard from it, heartbeats included', () => {
    const s = run({ backend: ExecutionBackend.KAFKA, status: RunStatus.PENDING });
    status(s, RunStatus.RUNNING);
    expect(s.row.aliveUntil!.getTime()).toBe(T0 + 300_000);
    clock += 200_000;
    expect(apply(s, { type: 'run.heartbeat', payload: {} })).toEqual({ outcome: 'applied' });
    expect(s.row.aliveUntil!.getTime()).toBe(clock + 300_000);
    expect(s.changed).toBe(true); // the RUNNING status; a heartbeat alone changes nothing a client sees
    const quiet = run({ backend: ExecutionBackend.KAFKA, status: RunStatus.RUNNING });
    apply(quiet, { type: 'run.heartbeat', payload: {} });
    expect([quiet.changed, quiet.written]).toEqual([false, true]);
  });

  it('a lost verdict applies only if nothing was heard since it was seen', () => {
    const s = run({ backend: ExecutionBackend.KAFKA });
    status(s, RunStatus.RUNNING);
    const seen = new Date(T0 + 400_000).toISOString();
    clock += 350_000;
    apply(s, { type: 'run.heartbeat', payload: {} }); // heard from after the monitor looked
    expect(apply(s, { type: 'run.lost', payload: { message: 'lost', seenAliveUntil: seen } })).toEqual({
      outcome: 'ignored',
      reason: 'alive again',
    });
    clock += 400_000;
    const later = new Date(clock).toISOString();
    expect(apply(s, { type: 'run.lost', payload: { message: 'no update', details: 'gone', seenAliveUntil: later } }).outcome).toBe(
      'applied',
    );
    expect(s.row).toMatchObject({ status: RunStatus.FAILED, error: { kind: ErrorKind.TRANSIENT, message: 'no update', details: 'gone' } });
  });
});

describe('runEvents cursors', () => {
  const fresh = (s: RunState) => newRunState(s.row, s.stages, s.job);

  it('hands out one per message of a batch, in the order a subscriber gets them: lines, the run, its metrics, each changed stage', () => {
    const s = run({ eventSeq: 1, stateSeq: 1 });
    status(s, RunStatus.RUNNING);
    apply(s, {
      type: 'run.log',
      payload: {
        lines: [
          { level: LogLevel.INFO, message: 'a' },
          { level: LogLevel.INFO, message: 'b' },
        ],
      },
    });
    stage(s, { totalItems: 10, completedItems: 1 });
    apply(s, { type: 'stage.progress', payload: { stage: 'extract', totalItems: 10, completedItems: 2 } });
    metrics(s, 5);
    assignCursors(s);
    expect(s.logs.map((l) => l.eventSeq)).toEqual([2, 3]);
    expect(s.row).toMatchObject({ stateSeq: 4, metricsSeq: 5, eventSeq: 7 });
    expect(s.stages.map((st) => [st.name, st.eventSeq])).toEqual([
      ['load', 6],
      ['extract', 7],
    ]);

    // The next batch: only what it changed gets new cursors.
    const next = fresh(s);
    stage(next, { increment: 1 });
    assignCursors(next);
    expect(next.row).toMatchObject({ stateSeq: 8, metricsSeq: 5, eventSeq: 9 });
    expect(next.stages.map((st) => st.eventSeq)).toEqual([9, 7]);
  });

  it('gives log lines alone cursors of their own and leaves the run state where it was', () => {
    const s = run({ eventSeq: 4, stateSeq: 4 });
    apply(s, { type: 'run.log', payload: { lines: [{ level: LogLevel.DEBUG, message: 'a' }] } });
    assignCursors(s);
    expect(s.logs[0].eventSeq).toBe(5);
    expect(s.row).toMatchObject({ stateSeq: 4, eventSeq: 5 });
  });

  it('points at no sample once a new attempt starts without metrics', () => {
    const s = run({ eventSeq: 3, stateSeq: 2, metricsSeq: 3 });
    status(s, RunStatus.RUNNING);
    metrics(s, 1);
    status(s, RunStatus.FAILED, { error: { message: 'x', kind: ErrorKind.TRANSIENT, details: null } });
    apply(s, { type: 'run.retry', payload: { manual: true } });
    assignCursors(s);
    expect(s.row.metrics).toBeNull();
    expect(s.row).toMatchObject({ stateSeq: 4, metricsSeq: 0, eventSeq: 4 });
  });
});
