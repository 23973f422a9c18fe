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
// The stuck monitor and the executor read only active runs: keep that index small.
@Index({
  name: 'runs_active_updated_idx',
  expression: `create index "runs_active_updated_idx" on "runs" ("backend", "updated_at") where "status" in ('PENDING', 'QUEUED', 'RUNNING', 'CANCELLING')`,
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
    | 'progress'
    | 'metrics'
    | 'error'
    | 'attempts'
    | 'deadLettered'
    | 'nextRetryAt'
    | 'leaseOwner'
    | 'leaseExpiresAt'
    | 'logSeq'
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

  @Property({ columnType: 'timestamptz(3)', type: 'datetime', nullable: true })
  lastProgressAt: Date | null = null;

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
