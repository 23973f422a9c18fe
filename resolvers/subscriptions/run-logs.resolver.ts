import { Arg, ID, Resolver, Root, Subscription } from 'type-graphql';
import { RequiresRole, Role } from '../common/requires-role';
import type { GraphQLContext } from '../../src/graphql/context';
import { LogLevel } from '../enums';
import { LogChunk } from '../run/log-chunk.type';
import type { LogChunkView } from '../../src/live/live.service';

/** Live log lines of one run: stored lines after `after` first, then new ones; no gap, no duplicate. */
@Resolver()
export class RunLogsResolver {
  @Subscription(() => LogChunk, {
    description: 'Log lines of one run: replays stored lines after `after` (all without it), then streams new ones',
    subscribe: ({ args, context }) =>
      (context as GraphQLContext).live.runLogs({
        runId: args.runId,
        minLevel: args.minLevel,
        after: args.after,
        contains: args.contains,
      }),
  })
  @RequiresRole(Role.VIEWER)
  runLogs(
    @Root() chunk: LogChunkView,
    @Arg('runId', () => ID) _runId: string,
    @Arg('minLevel', () => LogLevel, { nullable: true, defaultValue: LogLevel.DEBUG }) _minLevel: LogLevel | null,
    @Arg('after', () => String, { nullable: true }) _after: string | null,
    @Arg('contains', () => String, { nullable: true }) _contains: string | null,
  ): LogChunkView {
    return chunk;
  }
}
