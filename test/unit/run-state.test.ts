import { ErrorKind, JobStatus, RunStatus, StageStatus } from '../../src/domain';
import { afterFailure, checkTransition, jobStatusFor, nextStageStatus, retryDelayMs } from '../../src/runs/run-state';

describe('run state machine', () => {
  it('moves forward through the lifecycle, skipping steps when needed', () => {
    expect(checkTransition(RunStatus.PENDING, RunStatus.QUEUED).ok).toBe(true);
    expect(checkTransition(RunStatus.QUEUED, RunStatus.RUNNING).ok).toBe(true);
    expect(checkTransition(RunStatus.QUEUED, RunStatus.SUCCEEDED).ok).toBe(true);
    expect(checkTransition(RunStatus.RUNNING, RunStatus.CANCELLING).ok).toBe(true);
    expect(checkTransition(RunStatus.CANCELLING, RunStatus.CANCELLED).ok).toBe(true);
    expect(checkTransition(RunStatus.CANCELLING, RunStatus.SUCCEEDED).ok).toBe(true);
  });

  it('never moves a run backwards within an attempt', () => {
    const t = checkTransition(RunStatus.RUNNING, RunStatus.QUEUED);
    expect(t).toEqual({ ok: false, reason: expect.stringContaining('backwards') });
    expect(checkTransition(RunStatus.CANCELLING, RunStatus.RUNNING).ok).toBe(false);
  });

  it('treats a terminal status as final: RUNNING after SUCCEEDED is refused', () => {
    for (const terminal of [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED]) {
      const t = checkTransition(terminal, RunStatus.RUNNING);
      expect(t.ok).toBe(false);
      if (!t.ok) expect(t.reason).toMatch(/final/);
    }
    expect(checkTransition(RunStatus.SUCCEEDED, RunStatus.FAILED).ok).toBe(false);
  });

  it('derives the job status from its latest run', () => {
    expect(jobStatusFor(null)).toBe(JobStatus.CREATED);
    expect(jobStatusFor(RunStatus.QUEUED)).toBe(JobStatus.RUNNING);
    expect(jobStatusFor(RunStatus.SUCCEEDED)).toBe(JobStatus.COMPLETED);
    expect(jobStatusFor(RunStatus.FAILED)).toBe(JobStatus.FAILED);
    expect(jobStatusFor(RunStatus.CANCELLED)).toBe(JobStatus.CANCELLED);
  });

  it('completes a stage when its counts reach the total, and keeps finished stages finished', () => {
    expect(nextStageStatus(StageStatus.PENDING, undefined, { totalItems: 10, completedItems: 3, failedItems: 0 })).toBe(
      StageStatus.RUNNING,
    );
    expect(nextStageStatus(StageStatus.RUNNING, undefined, { totalItems: 10, completedItems: 9, failedItems: 1 })).toBe(
      StageStatus.COMPLETED,
    );
    expect(nextStageStatus(StageStatus.COMPLETED, StageStatus.RUNNING, { totalItems: 10, completedItems: 1, failedItems: 0 })).toBe(
      StageStatus.COMPLETED,
    );
  });

  it('does not complete a stage whose total is an estimate when its counts reach it (more may come)', () => {
    expect(
      nextStageStatus(StageStatus.RUNNING, undefined, { totalItems: 10, completedItems: 10, failedItems: 0, totalIsEstimate: true }),
    ).toBe(StageStatus.RUNNING);
    expect(nextStageStatus(StageStatus.RUNNING, undefined, { totalItems: 10, completedItems: 10, failedItems: 0 })).toBe(
      StageStatus.COMPLETED,
    );
  });
});

describe('retry policy', () => {
  const policy = { baseDelayMs: 1000, maxDelayMs: 60_000 };

  it('retries TRANSIENT failures while attempts remain, then dead-letters', () => {
    expect(afterFailure(ErrorKind.TRANSIENT, 1, 3, policy).action).toBe('retry');
    expect(afterFailure(ErrorKind.TRANSIENT, 2, 3, policy).action).toBe('retry');
    expect(afterFailure(ErrorKind.TRANSIENT, 3, 3, policy)).toEqual({ action: 'dead-letter' });
  });

  it('never retries PERMANENT failures', () => {
    expect(afterFailure(ErrorKind.PERMANENT, 1, 3, policy)).toEqual({ action: 'stop' });
  });

  it('backs off exponentially with jitter between half and the full delay, capped', () => {
    expect(retryDelayMs(1, policy, () => 0)).toBe(500);
    expect(retryDelayMs(1, policy, () => 1)).toBe(1000);
    expect(retryDelayMs(3, policy, () => 1)).toBe(4000);
    expect(retryDelayMs(3, policy, () => 0)).toBe(2000);
    expect(retryDelayMs(20, policy, () => 1)).toBe(60_000);
  });
});
