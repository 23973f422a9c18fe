import { GraphQLInt, GraphQLObjectType, GraphQLSchema, GraphQLString, parse, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { makeSharedExecution, operationKey, resultJson } from '../../src/graphql/shared-execution';

/** A schema whose `tick` subscription field resolves the event it is given, counting the resolver calls of `label`. */
function world() {
  let resolved = 0;
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
      // What a field that depends on the caller's rights would do.
      secret: {
        type: GraphQLString,
        resolve: (e: { n: number }, _a: unknown, ctx: { role: string }) => (ctx.role === 'ADMIN' ? `secret ${e.n}` : null),
      },
    },
  });
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLInt } } }),
    subscription: new GraphQLObjectType({ name: 'Subscription', fields: { tick: { type: Tick, resolve: (e: object) => e } } }),
  });
  return { schema, resolved: () => resolved };
}

describe('shared subscription execution', () => {
  const query = 'subscription($p: String) { tick { n label(prefix: $p) } }';
  // One document per query text, as the document cache hands out.
  const document = parse(query);

  /** One subscriber's operation: its execution arguments and its key. */
  const subscriber = (schema: GraphQLSchema, variables: Record<string, unknown>, doc = document, role = 'VIEWER') => {
    const args: ExecutionArgs = { schema, document: doc, variableValues: variables, contextValue: { role } };
    return { args, key: operationKey(undefined, variables, role) };
  };
  const run = async (shared: ReturnType<typeof makeSharedExecution>, s: ReturnType<typeof subscriber>, event: unknown) =>
    (await shared.resultFor(s.args, s.key, event)) as ExecutionResult;

  it('executes an event once for every subscriber of the same operation, and apart for other variables', async () => {
    const w = world();
    const shared = makeSharedExecution();
    const [a, b, c] = [subscriber(w.schema, { p: '#' }), subscriber(w.schema, { p: '#' }), subscriber(w.schema, { p: 'n=' })];
    const event = { n: 1 };
    const [ra, rb, rc] = [await run(shared, a, event), await run(shared, b, event), await run(shared, c, event)];
    expect(ra).toEqual({ data: { tick: { n: 1, label: '#1' } } });
    expect(rb).toBe(ra); // the very same object: serialized once too
    expect(rc).toEqual({ data: { tick: { n: 1, label: 'n=1' } } });
    expect(w.resolved()).toBe(2); // one execution for a and b, one for c

    const next = { n: 2 };
    await Promise.all([run(shared, a, next), run(shared, b, next), run(shared, c, next)]);
    expect(w.resolved()).toBe(4);
  });

  it('never shares a result between operations of different text, even when they select alike', async () => {
    const w = world();
    const shared = makeSharedExecution();
    const a = subscriber(w.schema, { p: '#' });
    const b = subscriber(w.schema, { p: '#' }, parse('subscription($p: String) { tick { label(prefix: $p) n } }'));
    const event = { n: 1 };
    expect(JSON.stringify(await run(shared, a, event))).toBe('{"data":{"tick":{"n":1,"label":"#1"}}}');
    expect(JSON.stringify(await run(shared, b, event))).toBe('{"data":{"tick":{"label":"#1","n":1}}}');
    expect(w.resolved()).toBe(2);
  });

  it("keys an operation by its name, its variables and the caller's role", () => {
    expect(operationKey('A', { p: '#' }, 'VIEWER')).toBe(operationKey('A', { p: '#' }, 'VIEWER'));
    expect(operationKey('A', { p: '#' }, 'VIEWER')).not.toBe(operationKey('B', { p: '#' }, 'VIEWER'));
    expect(operationKey(null, { p: '#' }, 'VIEWER')).not.toBe(operationKey(null, { p: '#', q: 1 }, 'VIEWER'));
    expect(operationKey('A', { p: '#' }, 'VIEWER')).not.toBe(operationKey('A', { p: '#' }, 'ADMIN'));
  });

  it('never serves a result computed for one role to a caller of another, and shares it within a role', async () => {
    const w = world();
    const shared = makeSharedExecution();
    const doc = parse('subscription { tick { n secret } }');
    const [viewer, admin, admin2] = [
      subscriber(w.schema, {}, doc, 'VIEWER'),
      subscriber(w.schema, {}, doc, 'ADMIN'),
      subscriber(w.schema, {}, doc, 'ADMIN'),
    ];
    const event = { n: 3 };
    const ra = await run(shared, admin, event);
    const rv = await run(shared, viewer, event);
    expect(ra).toEqual({ data: { tick: { n: 3, secret: 'secret 3' } } });
    expect(rv).toEqual({ data: { tick: { n: 3, secret: null } } });
    expect(await run(shared, admin2, event)).toBe(ra);
  });

  it('serializes a shared result once for all its subscribers', async () => {
    const w = world();
    const shared = makeSharedExecution();
    const event = { n: 7 };
    const ra = await run(shared, subscriber(w.schema, { p: '#' }), event);
    expect(resultJson(ra)).toBe('{"data":{"tick":{"n":7,"label":"#7"}}}');
    expect(resultJson(await run(shared, subscriber(w.schema, { p: '#' }), event))).toBe(resultJson(ra));
  });

  it('executes per subscriber an operation without a key, and an event that is not an object', async () => {
    const w = world();
    const shared = makeSharedExecution();
    const args: ExecutionArgs = { schema: w.schema, document, variableValues: { p: '#' } };
    const event = { n: 1 };
    await shared.resultFor(args, undefined, event);
    await shared.resultFor(args, undefined, event);
    expect(w.resolved()).toBe(2);
  });
});
