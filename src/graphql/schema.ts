import 'reflect-metadata';
import type { GraphQLScalarType, GraphQLSchema } from 'graphql';
import { buildSchema, type NonEmptyArray, type PubSub } from 'type-graphql';

/**
 * Subscriptions here bring their own `subscribe` (snapshot-first streams of the live service), so
 * type-graphql's topic-based pubsub is never used; it still insists on having one.
 */
const noPubSub: PubSub = {
  publish() {
    throw new Error('jobwire publishes through RunEventsService, never through type-graphql');
  },
  subscribe() {
    throw new Error('jobwire subscriptions use their own subscribe functions (src/live)');
  },
};

/** What the public schema is built from: the resolver classes and the scalar for `Date`. */
export interface SchemaParts {
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  resolvers: NonEmptyArray<Function>;
  dateScalar: GraphQLScalarType;
}

const built = new WeakMap<object, Promise<GraphQLSchema>>();

/**
 * Builds the public schema from the resolvers the composition root passes in. The schema depends on
 * code only (services arrive through the context), so it is built once per resolver list and
 * shared. Input validation is the services' job (BAD_USER_INPUT naming the field), so
 * class-validator is off.
 */
export function buildJobwireSchema(parts: SchemaParts): Promise<GraphQLSchema> {
  let schema = built.get(parts.resolvers);
  if (!schema) {
    schema = buildSchema({
      resolvers: parts.resolvers,
      scalarsMap: [{ type: Date, scalar: parts.dateScalar }],
      validate: false,
      pubSub: noPubSub,
      emitSchemaFile: false,
    });
    built.set(parts.resolvers, schema);
    schema.catch(() => built.delete(parts.resolvers));
  }
  return schema;
}
