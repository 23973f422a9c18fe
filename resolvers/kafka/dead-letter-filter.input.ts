import { Field, ID, InputType } from 'type-graphql';
import { DeadLetterStatus } from '../enums';

@InputType('DeadLetterFilter')
export class DeadLetterFilter {
  @Field(() => DeadLetterStatus, { nullable: true })
  status?: DeadLetterStatus | null;

  @Field(() => ID, { nullable: true })
  runId?: string | null;

  @Field(() => String, { nullable: true })
  topic?: string | null;
}
