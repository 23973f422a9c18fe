import { ErrorKind, JobStatus, RunStatus, StageStatus, isTerminal } from '../domain';

/**
 * The run state machine (pure). Within one attempt a run only moves forward:
 * PENDING → QUEUED → RUNNING → CANCELLING → one of SUCCEEDED | FAILED | CANCELLED, skipping steps
 * as needed. A terminal status is final for its attempt; only a new attempt (retry) re-queues a run.
 */
const RANK: Record<RunStatus, number> = {
  PENDING: 0,
  QUEUED: 1,
  RUNNING: 2,
  CANCELLING: 3,
  SUCCEEDED: 4,
  FAILED: 4,
  CANCELLED: 4,
};

export type Transition = { ok: true } | { ok: false; reason: string };

/** Whether `from → to` is a legal move within one attempt; when not, why (for the log). */
export function checkTransition(from: RunStatus, to: RunStatus): Transition {
  if (from === to) return { ok: false, reason: `already ${to}` };
  if (isTerminal(from)) return { ok: false, reason: `${from} is final for this attempt; ${to} ignored` };
  if (RANK[to] <= RANK[from]) return { ok: false, reason: `${to} after ${from} would move the run backwards` };
  return { ok: true };
}

/** The job's status follows its latest run. */
export function jobStatusFor(run: RunStatus | null | undefined): JobStatus {
  switch (run) {
    case undefined:
    case null:
      return JobStatus.CREATED;
    case RunStatus.SUCCEEDED:
      return JobStatus.COMPLETED;
    case RunStatus.FAILED:
      return JobStatus.FAILED;
    case RunStatus.CANCELLED:
      return JobStatus.CANCELLED;
    default:
      return JobStatus.RUNNING;
  }
}

const STAGE_RANK: Record<StageStatus, number> = { PENDING: 0, RUNNING: 1, COMPLETED: 2, FAILED: 2, SKIPPED: 2 };

/**
 * Stages move forward too: a finished stage stays finished. A stage whose counts reach its total
 * completes by itself, unless the total is an estimate (more items may still come).
 */
export function nextStageStatus(
  current: StageStatus,
  requested: StageStatus | undefined,
  counts: StageCounts & { totalIsEstimate?: boolean },
): StageStatus {
  if (STAGE_RANK[current] === 2) return current;
  if (requested && STAGE_RANK[requested] >= STAGE_RANK[current]) return requested;
  if (!counts.totalIsEstimate && counts.totalItems > 0 && counts.completedItems + counts.failedItems >= counts.totalItems)
    return StageStatus.COMPLETED;
  if (counts.completedItems + counts.failedItems > 0 && current === StageStatus.PENDING) return StageStatus.RUNNING;
  return current;
}

export interface StageCounts {
  totalItems: number;
  completedItems: number;
  failedItems: number;
}

/** What follows a failed attempt. */
export type AfterFailure = { action: 'retry'; delayMs: number } | { action: 'dead-letter' } | { action: 'stop' };

export interface RetryPolicy {
  /** Delay before the first retry; doubled for each further one. */
  baseDelayMs: number;
  /** Cap on any one delay. */
  maxDelayMs: number;
}

/**
 * TRANSIENT failures retry with exponential back-off and jitter until `maxAttempts` attempts were
 * made, then the run is dead-lettered; PERMANENT failures stop at once.
 * The delay for attempt n (1-based, the one that just failed) is base·2^(n-1), capped, then
 * "equal jitter": half fixed, half random, so replicas that failed together do not retry together.
 */
export function afterFailure(
  kind: ErrorKind,
  attempt: number,
  maxAttempts: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): AfterFailure {
  if (kind === ErrorKind.PERMANENT) return { action: 'stop' };
  if (attempt >= maxAttempts) return { action: 'dead-letter' };
  return { action: 'retry', delayMs: retryDelayMs(attempt, policy, random) };
}

export function retryDelayMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}
