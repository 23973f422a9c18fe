import { Arg, Ctx, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { RequiresRole, Role } from '../common/requires-role';
import type { DeadLetterView } from '../../src/kafka/dead-letters.service';
import type { IngestStatusView } from '../../src/kafka/ingest-status';
import type { GraphQLContext } from '../../src/graphql/context';
import { COST } from '../../src/graphql/costs';
import { DeadLetterConnection } from './dead-letter-connection.type';
import { DeadLetterFilter } from './dead-letter-filter.input';
import { DeadLetter } from './dead-letter.type';
import { IngestStatus } from './ingest-status.type';

/** Kafka ingestion: dead letters (list, replay, discard) and the consumer group's status, queried and live. */
@Resolver()
export class IngestResolver {
  @Query(() => DeadLetterConnection, { description: 'Kafka records that could not be applied, newest first' })
  @RequiresRole(Role.VIEWER)
  deadLetters(
    @Arg('filter', () => DeadLetterFilter, { nullable: true }) filter: DeadLetterFilter | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.ingest.deadLetters(filter, { first, after });
  }

  @Query(() => IngestStatus, { nullable: true, description: 'Null when Kafka is not configured', complexity: COST.ingestStatus })
  @RequiresRole(Role.VIEWER)
  ingestStatus(@Ctx() ctx: GraphQLContext): Promise<IngestStatusView | null> {
    return ctx.ingest.status();
  }

  @Mutation(() => DeadLetter, {
    description:
      'Applies it again: REPLAYED when it now applies, else it stays PENDING with the new reason; same idempotencyKey → as it is',
  })
  @RequiresRole(Role.OPERATOR)
  replayDeadLetter(
    @Arg('id', () => ID) id: string,
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<DeadLetterView> {
    return ctx.ingest.replayDeadLetter(id, { idempotencyKey });
  }

  @Mutation(() => DeadLetter, { description: 'Sets it aside (DISCARDED); same idempotencyKey → as it is' })
  @RequiresRole(Role.OPERATOR)
  discardDeadLetter(
    @Arg('id', () => ID) id: string,
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<DeadLetterView> {
    return ctx.ingest.discardDeadLetter(id, { idempotencyKey });
  }

  @Subscription(() => IngestStatus, {
    description: 'First message: the current status; then at most every 2 s while anything moves. UNAVAILABLE without Kafka',
    subscribe: ({ context }) => (context as GraphQLContext).live.ingestStatus(),
  })
  @RequiresRole(Role.VIEWER)
  ingestStatusUpdated(@Root() status: IngestStatusView): IngestStatusView {
    return status;
  }
}
