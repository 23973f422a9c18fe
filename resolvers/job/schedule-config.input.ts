import { Field, InputType, Int } from 'type-graphql';
import { DateTimeScalar } from '../scalars';

/** A cron schedule; `cron` and `timezone` are checked by the jobs service (BAD_USER_INPUT naming the field). */
@InputType('ScheduleConfigInput')
export class ScheduleConfigInput {
  @Field(() => String)
  cron!: string;

  @Field(() => String, { nullable: true, defaultValue: 'UTC' })
  timezone?: string | null;

  @Field(() => DateTimeScalar, { nullable: true })
  startAt?: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  endAt?: Date | null;

  @Field(() => Int, { nullable: true, defaultValue: 300 })
  retryDelaySeconds?: number | null;

  @Field(() => Boolean, { nullable: true, defaultValue: true })
  enabled?: boolean | null;
}
