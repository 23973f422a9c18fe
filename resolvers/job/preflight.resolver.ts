import { Arg, Ctx, Field, FieldResolver, ID, ObjectType, Query, Resolver, Root } from 'type-graphql';
import { RequiresRole, Role } from '../common/requires-role';
import type { PreflightResultView } from '../../src/api';
import { sparkConfFor } from '../../src/backends/spark/compute-mapping';
import type { ComputeConfig as ComputeConfigView } from '../../src/domain';
import type { GraphQLContext } from '../../src/graphql/context';
import { COST } from '../../src/graphql/costs';
import { JSONScalar } from '../scalars';
import { ComputeConfig } from './compute-config.type';

@ObjectType('PreflightCheck', { simpleResolvers: true })
export class PreflightCheck {
  @Field(() => String, { description: 'backend, source, application, compute, capacity' })
  name!: string;

  @Field(() => Boolean)
  ok!: boolean;

  @Field(() => String)
  message!: string;
}

@ObjectType('PreflightResult', { simpleResolvers: true })
export class PreflightResult {
  @Field(() => Boolean, { description: 'Every check passed' })
  ok!: boolean;

  @Field(() => [PreflightCheck])
  checks!: PreflightCheck[];
}

/** `preflightJob`, and the Spark properties a compute config becomes (`ComputeConfig.effectiveSparkConf`). */
@Resolver(() => ComputeConfig)
export class PreflightResolver {
  @Query(() => PreflightResult, {
    description:
      'Backend reachable, source answers, compute maps, the cluster has the capacity — nothing started. NOT_FOUND for an unknown job',
    complexity: COST.preflight,
  })
  @RequiresRole(Role.VIEWER)
  preflightJob(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<PreflightResultView> {
    return ctx.jobs.preflight(id);
  }

  @FieldResolver(() => JSONScalar, {
    nullable: true,
    description: 'The Spark properties the SPARK backend submits for this config (the documented mapping, then sparkConf; secrets masked)',
  })
  effectiveSparkConf(@Root() compute: ComputeConfigView): Record<string, string> {
    return sparkConfFor(compute).conf;
  }
}
