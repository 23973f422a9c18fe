import { Ctx, Query, Resolver } from 'type-graphql';
import { RequiresRole, Role } from '../common/requires-role';
import type { JobStatsView } from '../../src/api';
import type { GraphQLContext } from '../../src/graphql/context';
import { COST } from '../../src/graphql/costs';
import { JobStats } from './job-stats.type';

@Resolver()
export class StatsResolver {
  @Query(() => JobStats, { description: 'Counts for an overview dashboard', complexity: COST.stats })
  @RequiresRole(Role.VIEWER)
  jobStats(@Ctx() ctx: GraphQLContext): Promise<JobStatsView> {
    return ctx.runs.stats();
  }
}
