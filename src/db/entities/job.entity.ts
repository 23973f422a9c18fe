import { Entity, Enum, Index, PrimaryKey, Property, OptionalProps } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { ExecutionBackend, JobStatus, StallAction } from '../../domain';
import type { ComputeConfig, Destination, ProcessingConfig, ScheduleConfig, SourceConfig } from '../../domain';

/** A job definition. `source.params` is stored whole (secrets included: the executor needs them). */
@Entity({ tableName: 'jobs' })
@Index({ name: 'jobs_status_idx', properties: ['status'] })
@Index({ name: 'jobs_created_at_idx', properties: ['createdAt', 'id'] })
// `tags @> '["x"]'` (the tag filter) is answered from this index.
@Index({ name: 'jobs_tags_idx', expression: 'create index "jobs_tags_idx" on "jobs" using gin ("tags" jsonb_path_ops)' })
@Index({
  name: 'jobs_next_run_at_idx',
  expression: 'create index "jobs_next_run_at_idx" on "jobs" ("next_run_at") where "next_run_at" is not null',
})
export class JobEntity {
  [OptionalProps]?:
    | 'description'
    | 'tags'
    | 'backend'
    | 'schedule'
    | 'nextRunAt'
    | 'maxAttempts'
    | 'stallTimeoutSeconds'
    | 'onStall'
    | 'status'
    | 'latestRunId'
    | 'runCounter'
    | 'createdBy'
    | 'createdAt'
    | 'updatedAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'text' })
  name!: string;

  @Property({ type: 'text', nullable: true })
  description: string | null = null;

  @Property({ type: 'json' })
  tags: string[] = [];

  @Enum({ items: () => ExecutionBackend })
  backend: ExecutionBackend = ExecutionBackend.LOCAL;

  @Property({ type: 'json' })
  source!: SourceConfig;

  @Property({ type: 'json' })
  destination!: Destination;

  @Property({ type: 'json' })
  processing!: ProcessingConfig;

  @Property({ type: 'json' })
  compute!: ComputeConfig;

  @Property({ type: 'json', nullable: true })
  schedule: ScheduleConfig | null = null;

  /** When the scheduler fires next; null without an enabled schedule. */
  @Property({ columnType: 'timestamptz(3)', type: 'datetime', nullable: true })
  nextRunAt: Date | null = null;

  /** Automatic attempts per run; null: the gateway's RETRY_MAX_ATTEMPTS when the run is created. */
  @Property({ type: 'integer', nullable: true })
  maxAttempts: number | null = null;

  /** Seconds a RUNNING run may go without a counter moving before it is stalled; null: STALL_THRESHOLD_MS. */
  @Property({ type: 'integer', nullable: true })
  stallTimeoutSeconds: number | null = null;

  @Enum({ items: () => StallAction, default: StallAction.NONE })
  onStall: StallAction = StallAction.NONE;

  /** Derived from the latest run, kept here (updated in the run's transaction) so filters can index it. */
  @Enum({ items: () => JobStatus })
  status: JobStatus = JobStatus.CREATED;

  @Property({ type: 'uuid', nullable: true })
  latestRunId: string | null = null;

  /** Last run number handed out; runs are numbered 1, 2, 3 … per job. */
  @Property({ type: 'integer' })
  runCounter: number = 0;

  /** Subject of the caller that created the job (audit); null for jobs made before it was recorded. */
  @Property({ type: 'text', nullable: true })
  createdBy: string | null = null;

  @Property({ columnType: 'timestamptz(3)', type: 'datetime' })
  createdAt: Date = new Date();

  @Property({ columnType: 'timestamptz(3)', type: 'datetime', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
