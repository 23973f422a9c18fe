import { Arg, ID, Resolver, Root, Subscription } from 'type-graphql';
import { RequiresRole, Role } from '../common/requires-role';
import type { MetricsView, StageView } from '../../src/domain';
import type { GraphQLContext } from '../../src/graphql/context';
import { RunMetrics } from '../run/run-metrics.type';
import { Stage } from '../run/stage.type';

/** Progress of one run: metric samples and stage changes, current state first. */
@Resolver()
export class RunProgressResolver {
  @Subscription(() => RunMetrics, {
    description: 'Metric samples of one run, the latest first',
    subscribe: ({ args, context }) => (context as GraphQLContext).live.runMetrics(args.runId),
  })
  @RequiresRole(Role.VIEWER)
  runMetrics(@Root() sample: MetricsView, @Arg('runId', () => ID) _runId: string): MetricsView {
    return sample;
  }

  @Subscription(() => Stage, {
    description: 'Stage progress of one run; first every stage as it stands',
    subscribe: ({ args, context }) => (context as GraphQLContext).live.stageProgress(args.runId),
  })
  @RequiresRole(Role.VIEWER)
  stageProgress(@Root() stage: StageView, @Arg('runId', () => ID) _runId: string): StageView {
    return stage;
  }
}
