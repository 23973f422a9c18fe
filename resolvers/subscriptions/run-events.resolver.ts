import { Arg, ID, Resolver, Root, Subscription } from 'type-graphql';
import { RequiresRole, Role } from '../common/requires-role';
import type { GraphQLContext } from '../../src/graphql/context';
import type { RunEventView } from '../../src/live/live.service';
import { LogLevel } from '../enums';
import { RunEvent } from '../run/run-event.union';

/** One stream per run page: status, stages, metrics and log lines in one cursor order, resumable. */
@Resolver()
export class RunEventsResolver {
  @Subscription(() => RunEvent, {
    description:
      "A run's status, stage, metric and log changes in one stream: the stored state after `after` first (all of it without), then every change; resume with the last cursor received",
    subscribe: ({ args, context }) =>
      (context as GraphQLContext).live.runEvents({ runId: args.runId, after: args.after, minLevel: args.minLevel }),
  })
  @RequiresRole(Role.VIEWER)
  runEvents(
    @Root() event: RunEventView,
    @Arg('runId', () => ID) _runId: string,
    @Arg('after', () => String, { nullable: true }) _after: string | null,
    @Arg('minLevel', () => LogLevel, { nullable: true, defaultValue: LogLevel.DEBUG }) _minLevel: LogLevel | null,
  ): RunEventView {
    return event;
  }
}
