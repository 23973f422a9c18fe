import { BigIntType, Entity, Enum, Index, PrimaryKey, Property, Unique, OptionalProps } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { ExecutionBackend, RunStatus, RunTrigger } from '../../domain';
import type { MetricsView, RunAttemptView, RunErrorView } from '../../domain';

/** One run of a job, with every attempt it took. Written only by the run-event service. */
@Entity({ tableName: 'runs' })
@Unique({ name: 'runs_job_number_uniq', properties: ['jobId', 'number'] })
@Index({ name: 'runs_job_created_idx', properties: ['jobId', 'createdAt', 'id'] })
@Index({ name: 'runs_status_created_idx', properties: ['status', 'createdAt', 'id'] })
@Index({ name: 'runs_created_idx', properties: ['createdAt', 'id'] })
// The stuck monitor reads only runs past their liveness deadline, the stall check only runs past
// their stall deadline, the LOCAL executor only claimable runs: each answered by a small partial index
// whose size does not grow with idle or finished runs.
@Index({
  name: 'runs_alive_until_idx',
  expression: 'create index "runs_alive_until_idx" on "runs" ("alive_until") where "alive_until" is not null',
})
@Index({
  name: 'runs_stall_at_idx',
  expression: 'create index "runs_stall_at_idx" on "runs" ("stall_at") where "stall_at" is not null',
})
@Index({
  name: 'runs_stalled_idx',
  expression: 'create index "runs_stalled_idx" on "runs" ("stalled_since") where "stalled_since" is not null',
})
@Index({
  name: 'runs_local_queue_idx',
  expression: `create index "runs_local_queue_idx" on "runs" ("queued_at", "created_at") where "status" = 'QUEUED' and "backend" = 'LOCAL' and "lease_owner" is null`,
})
// Retention (RunEventsService.prune) reads finished runs by finish time.
@Index({
  name: 'runs_finished_idx',
  expression: `create index "runs_finished_idx" on "runs" ("finished_at") where "status" in ('SUCCEEDED', 'FAILED', 'CANCELLED')`,
})
@Index({
  name: 'runs_next_retry_idx',
  expression: 'create index "runs_next_retry_idx" on "runs" ("next_retry_at") where "next_retry_at" is not null',
})
export class RunEntity {
  [OptionalProps]?:
    | 'attempt'
    | 'status'
    | 'externalId'
    | 'engineState'
    | 'lastProgressAt'
    | 'stalledSince'
    | 'stallTimeoutS'
    | 'aliveUntil'
    | 'stallAt'
    | 'progress'
    | 'metrics'
    | 'error'
    | 'attempts'
    | 'deadLettered'
    | 'stoppedBy'
    | 'nextRetryAt'
    | 'leaseOwner'
    | 'leaseExpiresAt'
    | 'logSeq'
    | 'eventSeq'
    | 'stateSeq'
    | 'metricsSeq'
    | 'version'
    | 'queuedAt'
    | 'startedAt'
    | 'finishedAt'
    | 'createdAt'
    | 'updatedAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'uuid' })
  jobId!: string;

  @Property({ type: 'integer' })
  number!: number;

  @Property({ type: 'integer' })
  attempt: number = 1;

  /** Automatic attempts allowed, copied from the job when the run was created. */
  @Property({ type: 'integer' })
  maxAttempts!: number;

  @Enum({ items: () => RunTrigger })
  trigger!: RunTrigger;

  @Enum({ items: () => RunStatus })
  status: RunStatus = RunStatus.PENDING;

  @Enum({ items: () => ExecutionBackend })
  backend!: ExecutionBackend;

  @Property({ type: 'text', nullable: true })
  externalId: string | null = null;

  @Property({ type: 'text', nullable: true })
  engineState: string | null = null;

  /** Last time a stage count or a record counter moved. */
  @Property({ columnType: 'timestamptz(3)', type: 'datetime', nullable: true })
  lastProgressAt: Date | null = null;

  /** Set while the run is stalled (RUNNING, no counter moved for `stallTimeoutS`). */
  @Property({ columnType: 'timestamptz(3)', type: 'datetime', nullable: true })
  stalledSince: Date | null = null;

  /** The job's stall timeout when the run was created, in seconds. */
  @Property({ type: 'integer', default: 300 })
  stallTimeoutS: number = 300;

  /**
   * Liveness deadline: after this the run looks dead and the stuck monitor reconciles it. Kept by
   * the backend's liveness rule: a LOCAL run's lease while it executes (never while it waits in the
   * queue), the last sign of life plus STUCK_THRESHOLD_MS for the others. Null once finished.
   */
  @Property({ columnType: 'timestamptz(3)', type: 'datetime', nullable: true })
  aliveUntil: Date | null = null;

  /** Stall deadline: `lastProgressAt` (or the start) plus the stall timeout, while RUNNING and not stalled. */
  @Property({ columnType: 'timestamptz(3)', type: 'datetime', nullable: true })
  stallAt: Date | null = null;

  @Property({ type: 'double' })
  progress: number = 0;

  @Property({ type: 'json', nullable: true })
  metrics: MetricsView | null = null;

  @Property({ type: 'json', nullable: true })
  error: RunErrorView | null = null;

  /** History, one entry per attempt (the current one last). */
  @Property({ type: 'json' })
  attempts: RunAttemptView[] = [];

  @Property({ type: 'boolean' })
  deadLettered: boolean = false;

  /** Who stopped the run: stopRun's caller, or `stall-policy` (audit). Who started each attempt is in `attempts[].triggeredBy`. */
  @Property({ type: 'text', nullable: true })
  stoppedBy: string | null = null;

  /** When the scheduler starts the next automatic attempt; null when none is due. */
  @Property({ columnType: 'timestamptz(3)', type: 'datetime', nullable: true })
  nextRetryAt: Date | null = null;

  /** Gateway instance executing this run (LOCAL), and until when its claim holds without renewal. */
  @Property({ type: 'text', nullable: true })
  leaseOwner: string | null = null;

  @Property({ columnType: 'timestamptz(3)', type: 'datetime', nullable: true })
  leaseExpiresAt: Date | null = null;

  /** Last log seq handed out for this run. */
  @Property({ type: new BigIntType('number') })
  logSeq: number = 0;

  /**
   * Last `runEvents` cursor handed out for this run: one per change a client sees (the run's state,
   * its metrics, each stage's, each log line), bumped under the run's lock by the one writer.
   */
  @Property({ type: new BigIntType('number'), default: 0 })
  eventSeq: number = 0;

  /** The cursor of the run's current state (its `RunStatusEvent`). */
  @Property({ type: new BigIntType('number'), default: 0 })
  stateSeq: number = 0;

  /** The cursor of `metrics`, the latest sample (its `MetricsEvent`); 0 before the first. */
  @Property({ type: new BigIntType('number'), default: 0 })
  metricsSeq: number = 0;

  @Property({ type: 'integer' })
  version: number = 0;

  @Property({ columnType: 'timestamptz(3)', type: 'datetime', nullable: true })
  queuedAt: Date | null = null;

  @Property({ columnType: 'timestamptz(3)', type: 'datetime', nullable: true })
  startedAt: Date | null = null;

  @Property({ columnType: 'timestamptz(3)', type: 'datetime', nullable: true })
  finishedAt: Date | null = null;

  @Property({ columnType: 'timestamptz(3)', type: 'datetime' })
  createdAt: Date = new Date();

  @Property({ columnType: 'timestamptz(3)', type: 'datetime' })
  updatedAt: Date = new Date();
}
