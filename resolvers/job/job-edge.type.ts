import { Field, ObjectType } from 'type-graphql';
import { Job } from './job.type';

@ObjectType('JobEdge')
export class JobEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => Job)
  node!: Job;
}
