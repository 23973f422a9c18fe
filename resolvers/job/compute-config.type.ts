import { Field, Int, ObjectType } from 'type-graphql';
import { ClusterMode, InstanceType } from '../enums';
import { JSONScalar } from '../scalars';

@ObjectType('ComputeConfig', { simpleResolvers: true })
export class ComputeConfig {
  @Field(() => ClusterMode)
  clusterMode!: ClusterMode;

  @Field(() => InstanceType)
  instanceType!: InstanceType;

  @Field(() => Int)
  minWorkers!: number;

  @Field(() => Int)
  maxWorkers!: number;

  @Field(() => Boolean)
  autoscaling!: boolean;

  @Field(() => Boolean)
  photon!: boolean;

  @Field(() => Boolean)
  adaptiveQueryExecution!: boolean;

  @Field(() => Boolean)
  dynamicPartitionPruning!: boolean;

  @Field(() => Boolean)
  costBasedOptimizer!: boolean;

  @Field(() => JSONScalar, { nullable: true, description: 'Extra Spark properties passed through to the SPARK backend' })
  sparkConf!: unknown;
}
