import {
  GraphQLInt,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
  parse,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
} from 'graphql';
import { makeSharedSubscribe, resultJson } from '../../src/graphql/shared-execution';

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

  // One document per query text, as the document cache hands out.
  const document = parse(query);

  async function subscribe(
    shared: ReturnType<typeof makeSharedSubscribe>,
    schema: GraphQLSchema,
    variables: Record<string, unknown>,
    doc: DocumentNode = document,
  ) {
    const args: ExecutionArgs = { schema, document: doc, variableValues: variables };
    shared.register(args);
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

  it('never shares a result between operations of different text, even when they select alike', async () => {
    const w = world();
    const shared = makeSharedSubscribe();
    const other = 'subscription($p: String) { tick { label(prefix: $p) n } }';
    const a = await subscribe(shared, w.schema, { p: '#' });
    const b = await subscribe(shared, w.schema, { p: '#' }, parse(other));
    const next = Promise.all([a.next(), b.next()]);
    w.emit({ n: 1 });
    const [ra, rb] = await next;
    expect(JSON.stringify(ra.value)).toBe('{"data":{"tick":{"n":1,"label":"#1"}}}');
    expect(JSON.stringify(rb.value)).toBe('{"data":{"tick":{"label":"#1","n":1}}}');
    expect(w.resolved()).toBe(2);
  });

  it('serializes a shared result once for all its subscribers', async () => {
    const w = world();
    const shared = makeSharedSubscribe();
    const a = await subscribe(shared, w.schema, { p: '#' });
    const b = await subscribe(shared, w.schema, { p: '#' });
    const next = Promise.all([a.next(), b.next()]);
    w.emit({ n: 7 });
    const [ra, rb] = await next;
    expect(rb.value).toBe(ra.value);
    expect(resultJson(ra.value)).toBe('{"data":{"tick":{"n":7,"label":"#7"}}}');
    expect(resultJson(rb.value)).toBe(resultJson(ra.value));
  });

  it('executes an operation that was not registered once per subscriber', async () => {
    const w = world();
    const shared = makeSharedSubscribe();
    const args = (): ExecutionArgs => ({ schema: w.schema, document, variableValues: { p: '#' } });
    const [a, b] = (await Promise.all([shared.subscribe(args()), shared.subscribe(args())])) as AsyncIterableIterator<ExecutionResult>[];
    const next = Promise.all([a.next(), b.next()]);
    w.emit({ n: 1 });
    await next;
    expect(w.resolved()).toBe(2);
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
