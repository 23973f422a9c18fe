import { Field, InputType, Int } from 'type-graphql';
import { ExecutionBackend, StallAction } from '../enums';
import { ComputeConfigInput } from './compute-config.input';
import { DestinationInput } from './destination.input';
import { ProcessingConfigInput } from './processing-config.input';
import { ScheduleConfigInput } from './schedule-config.input';
import { SourceConfigInput } from './source-config.input';

@InputType('CreateJobInput')
export class CreateJobInput {
  @Field(() => String)
  name!: string;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => [String], { nullable: true, defaultValue: [] })
  tags?: string[] | null;

  @Field(() => ExecutionBackend, { nullable: true, defaultValue: ExecutionBackend.LOCAL })
  backend?: ExecutionBackend | null;

  @Field(() => SourceConfigInput)
  source!: SourceConfigInput;

  @Field(() => DestinationInput)
  destination!: DestinationInput;

  @Field(() => ProcessingConfigInput, { nullable: true })
  processing?: ProcessingConfigInput | null;

  @Field(() => ComputeConfigInput, { nullable: true })
  compute?: ComputeConfigInput | null;

  @Field(() => ScheduleConfigInput, { nullable: true })
  schedule?: ScheduleConfigInput | null;

  @Field(() => Int, { nullable: true, description: 'Automatic attempts per run before it is dead-lettered; null: RETRY_MAX_ATTEMPTS' })
  maxAttempts?: number | null;

  @Field(() => Int, {
    nullable: true,
    description: 'Seconds without a counter moving before a RUNNING run is stalled; null: STALL_THRESHOLD_MS',
  })
  stallTimeoutSeconds?: number | null;

  @Field(() => StallAction, { nullable: true, defaultValue: StallAction.NONE, description: 'What happens to a stalled run' })
  onStall?: StallAction | null;
}
