import { Field, InputType, Int } from 'type-graphql';
import { ClusterMode, InstanceType } from '../enums';
import { JSONScalar } from '../scalars';

/** Compute settings; a field left out keeps its current (or default) value. */
@InputType('ComputeConfigInput')
export class ComputeConfigInput {
  @Field(() => ClusterMode, { nullable: true })
  clusterMode?: ClusterMode | null;

  @Field(() => InstanceType, { nullable: true })
  instanceType?: InstanceType | null;

  @Field(() => Int, { nullable: true })
  minWorkers?: number | null;

  @Field(() => Int, { nullable: true })
  maxWorkers?: number | null;

  @Field(() => Boolean, { nullable: true })
  autoscaling?: boolean | null;

  @Field(() => Boolean, { nullable: true })
  photon?: boolean | null;

  @Field(() => Boolean, { nullable: true })
  adaptiveQueryExecution?: boolean | null;

  @Field(() => Boolean, { nullable: true })
  dynamicPartitionPruning?: boolean | null;

  @Field(() => Boolean, { nullable: true })
  costBasedOptimizer?: boolean | null;

  @Field(() => JSONScalar, { nullable: true })
  sparkConf?: unknown;
}
