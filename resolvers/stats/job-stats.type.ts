import { Field, Float, Int, ObjectType } from 'type-graphql';
import { Run } from '../run/run.type';
import { StatusCount } from './status-count.type';

@ObjectType('JobStats', { simpleResolvers: true })
export class JobStats {
  @Field(() => [StatusCount])
  runsByStatus!: StatusCount[];

  @Field(() => Float, { nullable: true, description: 'succeeded / (succeeded + failed) over finished runs; null when none finished' })
  successRate!: number | null;

  @Field(() => Int)
  running!: number;

  @Field(() => Int)
  deadLettered!: number;

  @Field(() => Int, { description: 'Runs stalled now (RUNNING, no counter moved for their stall timeout)' })
  stalled!: number;

  @Field(() => [Run], { description: 'Active runs with no update for longer than the stuck threshold' })
  stuckRuns!: Run[];
}
