import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import { ExecutionBackend, RunStatus, RunTrigger } from '../enums';
import { DateTimeScalar } from '../scalars';
import { RunAttempt } from './run-attempt.type';
import { RunError } from './run-error.type';
import { RunMetrics } from './run-metrics.type';
import { Stage } from './stage.type';

/** A run, resolved from a `RunView`; `job` and `logs` are field resolvers in run.resolver.ts. */
@ObjectType('Run', { simpleResolvers: true })
export class Run {
  @Field(() => ID)
  id!: string;

  @Field(() => Int, { description: '1, 2, 3 … per job' })
  number!: number;

  @Field(() => Int, { description: '1 on the first try; grows with each automatic or manual retry' })
  attempt!: number;

  @Field(() => RunTrigger)
  trigger!: RunTrigger;

  @Field(() => RunStatus)
  status!: RunStatus;

  @Field(() => ExecutionBackend)
  backend!: ExecutionBackend;

  @Field(() => String, { nullable: true, description: "The backend's id, e.g. the Spark submission/driver id" })
  externalId!: string | null;

  @Field(() => String, { nullable: true, description: "The engine's own state word, kept as it came" })
  engineState!: string | null;

  @Field(() => DateTimeScalar, {
    nullable: true,
    description: 'Last time a stage count or a record counter moved (a metric sample that changes nothing does not count)',
  })
  lastProgressAt!: string | null;

  @Field(() => DateTimeScalar, {
    nullable: true,
    description: "Set while the run is stalled (RUNNING, no counter moved for the job's stall timeout); null again once one moves",
  })
  stalledSince!: string | null;

  @Field(() => Float, { description: '0..1, from the stages; never moves backwards within an attempt; 1 only once SUCCEEDED' })
  progress!: number;

  @Field(() => [Stage])
  stages!: Stage[];

  @Field(() => RunMetrics, { nullable: true, description: 'Latest sample' })
  metrics!: RunMetrics | null;

  @Field(() => RunError, { nullable: true })
  error!: RunError | null;

  @Field(() => [RunAttempt])
  attempts!: RunAttempt[];

  @Field(() => String, {
    nullable: true,
    description: 'Who stopped it: the subject of the caller of stopRun, or "stall-policy" (onStall: STOP); null when nobody did',
  })
  stoppedBy!: string | null;

  @Field(() => Boolean, { description: 'Failed with attempts exhausted' })
  deadLettered!: boolean;

  @Field(() => DateTimeScalar, { nullable: true })
  queuedAt!: string | null;

  @Field(() => DateTimeScalar, { nullable: true })
  startedAt!: string | null;

  @Field(() => DateTimeScalar, { nullable: true })
  finishedAt!: string | null;

  @Field(() => DateTimeScalar)
  updatedAt!: string;
}
