import { Field, ObjectType } from 'type-graphql';
import { Job } from './job.type';

@ObjectType('JobEdge', { simpleResolvers: true })
export class JobEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => Job)
  node!: Job;
}
