import { Field, Int, ObjectType } from 'type-graphql';
import { DateTimeScalar } from '../scalars';

@ObjectType('ScheduleConfig', { simpleResolvers: true })
export class ScheduleConfig {
  @Field(() => String)
  cron!: string;

  @Field(() => String)
  timezone!: string;

  @Field(() => DateTimeScalar, { nullable: true })
  startAt!: string | null;

  @Field(() => DateTimeScalar, { nullable: true })
  endAt!: string | null;

  @Field(() => Int)
  retryDelaySeconds!: number;

  @Field(() => DateTimeScalar, { nullable: true, description: 'Next time the schedule fires; null when it never will' })
  nextRunAt!: string | null;

  @Field(() => Boolean)
  enabled!: boolean;
}
