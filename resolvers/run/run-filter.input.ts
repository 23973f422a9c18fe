import { Field, ID, InputType } from 'type-graphql';
import { RunStatus } from '../enums';

@InputType('RunFilter')
export class RunFilter {
  @Field(() => ID, { nullable: true })
  jobId?: string | null;

  @Field(() => RunStatus, { nullable: true })
  status?: RunStatus | null;
}
