import type { RunEvent } from './run-event';

/** Fields every event of jobwire's own shares with the public envelope. */
interface Own {
  runId: string;
  /** When set, the event belongs to that attempt; events of an older attempt change nothing. */
  attempt?: number;
  producer?: string;
  occurredAt?: string;
  eventId?: string;
}

/** An executor takes a QUEUED LOCAL run: RUNNING, with its lease. */
export type ClaimEvent = Own & { type: 'run.claim'; payload: { owner: string; leaseMs: number } };
/** The lease holder renews its lease (nothing a client sees changes). */
export type LeaseEvent = Own & { type: 'run.lease'; payload: { owner: string; leaseMs: number } };
/**
 * The lease holder hands a RUNNING run back to the queue without spending an attempt (a graceful
 * gateway stop): QUEUED again, same attempt, stages and counts from nothing.
 */
export type RequeueEvent = Own & { type: 'run.requeue'; payload: { owner: string; reason: string } };
/**
 * The stuck monitor found the run dead (its lease expired, or the backend lost it): FAILED
 * TRANSIENT, so it retries. Applies only if nothing was heard from the run since `seenAliveUntil`.
 */
export type LostEvent = Own & { type: 'run.lost'; payload: { message: string; details?: string | null; seenAliveUntil: string } };
/** The stuck monitor asked the backend: the run is alive after all; its liveness deadline moves on. */
export type AliveEvent = Own & { type: 'run.alive'; payload: { seenAliveUntil: string } };
/** The stall check found a RUNNING run past its stall deadline: flag it, then the job's `onStall`. */
export type StallEvent = Own & { type: 'run.stall'; payload: Record<string, never> };

/**
 * Everything the run-event service applies: the public events (Kafka contract, `run-event.ts`)
 * and the ones jobwire issues about its own runs (leases, hand-backs, the monitors' findings).
 */
export type CoreEvent = RunEvent | ClaimEvent | LeaseEvent | RequeueEvent | LostEvent | AliveEvent | StallEvent;
