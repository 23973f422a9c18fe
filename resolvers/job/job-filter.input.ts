import { Field, InputType } from 'type-graphql';
import { ExecutionBackend, JobStatus } from '../enums';

@InputType('JobFilter')
export class JobFilter {
  @Field(() => JobStatus, { nullable: true })
  status?: JobStatus | null;

  @Field(() => String, { nullable: true })
  tag?: string | null;

  @Field(() => String, { nullable: true, description: 'Case-insensitive text in the name or description' })
  search?: string | null;

  @Field(() => ExecutionBackend, { nullable: true })
  backend?: ExecutionBackend | null;
}
