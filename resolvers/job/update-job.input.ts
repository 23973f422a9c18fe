import { Field, InputType, Int } from 'type-graphql';
import { StallAction } from '../enums';
import { DestinationInput } from './destination.input';
import { ProcessingConfigInput } from './processing-config.input';
import { ScheduleConfigInput } from './schedule-config.input';
import { SourceConfigInput } from './source-config.input';

/** A partial update: absent fields stay as they are; `schedule: null` removes the schedule. */
@InputType('UpdateJobInput')
export class UpdateJobInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => [String], { nullable: true })
  tags?: string[] | null;

  @Field(() => SourceConfigInput, { nullable: true })
  source?: SourceConfigInput | null;

  @Field(() => DestinationInput, { nullable: true })
  destination?: DestinationInput | null;

  @Field(() => ProcessingConfigInput, { nullable: true })
  processing?: ProcessingConfigInput | null;

  @Field(() => ScheduleConfigInput, { nullable: true })
  schedule?: ScheduleConfigInput | null;

  @Field(() => Int, { nullable: true })
  maxAttempts?: number | null;

  @Field(() => Int, { nullable: true })
  stallTimeoutSeconds?: number | null;

  @Field(() => StallAction, { nullable: true })
  onStall?: StallAction | null;
}
