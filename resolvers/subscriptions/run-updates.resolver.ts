import { Arg, ID, Resolver, Root, Subscription } from 'type-graphql';
import { RequiresRole, Role } from '../common/requires-role';
import type { RunView } from '../../src/domain';
import type { GraphQLContext } from '../../src/graphql/context';
import { RunFilter } from '../run/run-filter.input';
import { Run } from '../run/run.type';

/** Live runs: one run or one job's runs (snapshot first), and live runs pages. */
@Resolver()
export class RunUpdatesResolver {
  @Subscription(() => Run, {
    description: 'Changes of one run (runId) or of every run of one job (jobId); the first message is the current state',
    subscribe: ({ args, context }) => (context as GraphQLContext).live.runUpdated(args),
  })
  @RequiresRole(Role.VIEWER)
  runUpdated(
    @Root() run: RunView,
    @Arg('runId', () => ID, { nullable: true }) _runId: string | null,
    @Arg('jobId', () => ID, { nullable: true }) _jobId: string | null,
  ): RunView {
    return run;
  }

  @Subscription(() => Run, {
    description: 'Status changes of every run matching the filter (a live runs page)',
    subscribe: ({ args, context }) => (context as GraphQLContext).live.runsChanged(args.filter),
  })
  @RequiresRole(Role.VIEWER)
  runsChanged(@Root() run: RunView, @Arg('filter', () => RunFilter, { nullable: true }) _filter: RunFilter | null): RunView {
    return run;
  }
}
