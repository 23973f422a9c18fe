import 'reflect-metadata';
import type { GraphQLSchema } from 'graphql';
import { buildSchema, type PubSub } from 'type-graphql';
import { resolvers } from '../../resolvers';
import { DateTimeScalar } from '../../resolvers/scalars';

/**
 * Subscriptions here bring their own `subscribe` (snapshot-first streams over the EventBus), so
 * type-graphql's topic-based pubsub is never used; it still insists on having one.
 */
const noPubSub: PubSub = {
  publish() {
    throw new Error('jobwire publishes through RunEventsService, never through type-graphql');
  },
  subscribe() {
    throw new Error('jobwire subscriptions use their own subscribe functions (resolvers/subscriptions)');
  },
};

let built: Promise<GraphQLSchema> | null = null;

/**
 * Builds the public schema from the resolvers. The schema depends on code only (services arrive
 * through the context), so it is built once per process and shared. Input validation is the
 * services' job (BAD_USER_INPUT naming the field), so class-validator is off.
 */
export function buildJobwireSchema(): Promise<GraphQLSchema> {
  built ??= buildSchema({
    resolvers,
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    validate: false,
    pubSub: noPubSub,
    emitSchemaFile: false,
  }).catch((err) => {
    built = null;
    throw err;
  });
  return built;
}
