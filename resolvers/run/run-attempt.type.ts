import { Field, Int, ObjectType } from 'type-graphql';
import { RunStatus } from '../enums';
import { DateTimeScalar } from '../scalars';
import { RunError } from './run-error.type';

@ObjectType('RunAttempt', { simpleResolvers: true })
export class RunAttempt {
  @Field(() => Int)
  attempt!: number;

  @Field(() => RunStatus)
  status!: RunStatus;

  @Field(() => DateTimeScalar, { nullable: true })
  startedAt!: string | null;

  @Field(() => DateTimeScalar, { nullable: true })
  finishedAt!: string | null;

  @Field(() => RunError, { nullable: true })
  error!: RunError | null;

  @Field(() => String, {
    nullable: true,
    description:
      'Who started this attempt: the subject of the caller (startJob, retryRun), "scheduler" (cron) or "retry-policy" (automatic retry)',
  })
  triggeredBy!: string | null;
}
