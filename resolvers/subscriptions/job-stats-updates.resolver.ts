import { Resolver, Root, Subscription } from 'type-graphql';
import type { JobStatsView } from '../../src/api';
import type { GraphQLContext } from '../../src/graphql/context';
import { JobStats } from '../stats/job-stats.type';
import { jobStatsStream } from './stats-stream';

@Resolver()
export class JobStatsUpdatesResolver {
  @Subscription(() => JobStats, {
    description: 'Live counts for an overview dashboard; the first message is the current stats',
    subscribe: ({ context }) => {
      const ctx = context as GraphQLContext;
      return jobStatsStream({ runs: ctx.runs, feed: ctx.feeds.stats });
    },
  })
  jobStatsUpdated(@Root() stats: JobStatsView): JobStatsView {
    return stats;
  }
}
