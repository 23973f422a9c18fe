import { Field, ID, Int, ObjectType } from 'type-graphql';
import { ExecutionBackend, JobStatus, StallAction } from '../enums';
import { DateTimeScalar } from '../scalars';
import { ComputeConfig } from './compute-config.type';
import { Destination } from './destination.type';
import { ProcessingConfig } from './processing-config.type';
import { ScheduleConfig } from './schedule-config.type';
import { SourceConfig } from './source-config.type';

/**
 * A job definition, resolved from a `JobView`. `latestRun` and `runs` are field resolvers in
 * job.resolver.ts (kept out of this class so Job and Run do not import each other).
 */
@ObjectType('Job', { simpleResolvers: true })
export class Job {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String, { nullable: true })
  description!: string | null;

  @Field(() => [String])
  tags!: string[];

  @Field(() => ExecutionBackend)
  backend!: ExecutionBackend;

  @Field(() => SourceConfig)
  source!: SourceConfig;

  @Field(() => Destination)
  destination!: Destination;

  @Field(() => ProcessingConfig)
  processing!: ProcessingConfig;

  @Field(() => ComputeConfig)
  compute!: ComputeConfig;

  @Field(() => ScheduleConfig, { nullable: true })
  schedule!: ScheduleConfig | null;

  @Field(() => Int, { description: 'Automatic attempts per run before it is dead-lettered (RETRY_MAX_ATTEMPTS when the job sets none)' })
  maxAttempts!: number;

  @Field(() => Int, {
    description: "A RUNNING run whose counters do not move this long is stalled (the job's own, else STALL_THRESHOLD_MS)",
  })
  stallTimeoutSeconds!: number;

  @Field(() => StallAction, { description: 'What happens to a stalled run' })
  onStall!: StallAction;

  @Field(() => JobStatus, { description: 'Derived from the latest run' })
  status!: JobStatus;

  @Field(() => String, {
    nullable: true,
    description: 'Subject of the caller that created it (null for jobs created before this was recorded)',
  })
  createdBy!: string | null;

  @Field(() => DateTimeScalar)
  createdAt!: string;

  @Field(() => DateTimeScalar)
  updatedAt!: string;
}
