import { GraphQLInt, GraphQLObjectType, GraphQLSchema, GraphQLString, parse, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { makeSharedSubscribe } from '../../src/graphql/shared-execution';

/** A schema whose `tick` subscription yields the same event objects to every subscriber, counting resolver calls. */
function world() {
  let resolved = 0;
  const listeners = new Set<(e: object) => void>();
  let released = 0;
  const Tick = new GraphQLObjectType({
    name: 'Tick',
    fields: {
      n: { type: GraphQLInt },
      label: {
        type: GraphQLString,
        args: { prefix: { type: GraphQLString } },
        resolve: (e: { n: number }, a: { prefix?: string }) => {
          resolved++;
          return `${a.prefix ?? ''}${e.n}`;
        },
      },
    },
  });
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLInt } } }),
    subscription: new GraphQLObjectType({
      name: 'Subscription',
      fields: {
        tick: {
          type: Tick,
          subscribe: () => {
            const queue: object[] = [];
            let wake: ((r: IteratorResult<object>) => void) | null = null;
            const push = (e: object) => (wake ? (wake({ value: e, done: false }), (wake = null)) : queue.push(e));
            listeners.add(push);
            return {
              next: () => (queue.length ? Promise.resolve({ value: queue.shift()!, done: false }) : new Promise((r) => (wake = r))),
              return: () => {
                listeners.delete(push);
                released++;
                wake?.({ value: undefined, done: true });
                return Promise.resolve({ value: undefined, done: true });
              },
              [Symbol.asyncIterator]() {
                return this;
              },
            };
          },
          resolve: (e: object) => e,
        },
      },
    }),
  });
  return {
    schema,
    emit: (e: object) => listeners.forEach((l) => l(e)),
    resolved: () => resolved,
    released: () => released,
  };
}

describe('shared subscription execution', () => {
  const query = 'subscription($p: String) { tick { n label(prefix: $p) } }';

  async function subscribe(shared: ReturnType<typeof makeSharedSubscribe>, schema: GraphQLSchema, variables: Record<string, unknown>) {
    const args: ExecutionArgs = { schema, document: parse(query), variableValues: variables };
    shared.register(args, query, variables, undefined);
    return (await shared.subscribe(args)) as AsyncIterableIterator<ExecutionResult>;
  }

  it('executes an event once for every subscriber of the same operation, and apart for other variables', async () => {
    const w = world();
    const shared = makeSharedSubscribe();
    const a = await subscribe(shared, w.schema, { p: '#' });
    const b = await subscribe(shared, w.schema, { p: '#' });
    const c = await subscribe(shared, w.schema, { p: 'n=' });
    const next = Promise.all([a.next(), b.next(), c.next()]);
    w.emit({ n: 1 });
    const [ra, rb, rc] = await next;
    expect(ra.value).toEqual({ data: { tick: { n: 1, label: '#1' } } });
    expect(rb.value).toEqual(ra.value);
    expect(rc.value).toEqual({ data: { tick: { n: 1, label: 'n=1' } } });
    expect(w.resolved()).toBe(2); // one execution for a and b, one for c

    const again = Promise.all([a.next(), b.next(), c.next()]);
    w.emit({ n: 2 });
    await again;
    expect(w.resolved()).toBe(4);
  });

  it('releases the source at once when the client leaves, even while waiting for an event', async () => {
    const w = world();
    const shared = makeSharedSubscribe();
    const a = await subscribe(shared, w.schema, {});
    const waiting = a.next();
    await a.return!();
    expect(w.released()).toBe(1);
    await expect(waiting).resolves.toMatchObject({ done: true });
  });
});
