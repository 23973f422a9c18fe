import { Field, ID, InputType } from 'type-graphql';
import { ExecutionBackend, RunStatus } from '../enums';

@InputType('RunFilter')
export class RunFilter {
  @Field(() => ID, { nullable: true })
  jobId?: string | null;

  @Field(() => RunStatus, { nullable: true })
  status?: RunStatus | null;

  @Field(() => ExecutionBackend, { nullable: true })
  backend?: ExecutionBackend | null;

  @Field(() => String, { nullable: true, description: 'Runs of jobs carrying this tag' })
  tag?: string | null;
}
