import { Field, Float, Int, ObjectType } from 'type-graphql';
import { DateTimeScalar } from '../scalars';

@ObjectType('RunMetrics', { simpleResolvers: true })
export class RunMetrics {
  @Field(() => DateTimeScalar)
  timestamp!: string;

  @Field(() => Float)
  recordsProcessed!: number;

  @Field(() => Float)
  recordsFailed!: number;

  @Field(() => Float)
  throughputRps!: number;

  @Field(() => Float)
  bytesProcessed!: number;

  @Field(() => Int)
  activeWorkers!: number;

  @Field(() => Float, { nullable: true })
  cpuUtilization!: number | null;

  @Field(() => Float, { nullable: true })
  memoryUtilization!: number | null;
}
