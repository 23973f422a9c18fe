import { Resolver, Root, Subscription } from 'type-graphql';
import { RequiresRole, Role } from '../common/requires-role';
import type { JobStatsView } from '../../src/api';
import type { GraphQLContext } from '../../src/graphql/context';
import { JobStats } from '../stats/job-stats.type';

@Resolver()
export class JobStatsUpdatesResolver {
  @Subscription(() => JobStats, {
    description: 'Live counts for an overview dashboard; the first message is the current stats',
    subscribe: ({ context }) => (context as GraphQLContext).live.jobStats(),
  })
  @RequiresRole(Role.VIEWER)
  jobStatsUpdated(@Root() stats: JobStatsView): JobStatsView {
    return stats;
  }
}
