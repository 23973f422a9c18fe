import { createSourceEventStream, execute, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';

/**
 * A drop-in for graphql's `subscribe` (given to graphql-ws) that executes each event's selection set
 * once per distinct operation instead of once per subscriber.
 *
 * graphql's own `subscribe` runs `execute` for every subscriber and every event. A dashboard watched
 * by a thousand clients sends the same operation (same text, same variables) and receives the same
 * event object (the bus hands one parsed object to every local listener), so all of them would get
 * the same result a thousand times over. Here the result is cached per event object and operation,
 * so it is computed once and every subscriber of that operation gets the very same result object
 * (and {@link resultJson} serializes it once); streams that build per-subscriber payloads (log
 * chunks) simply miss the cache. Operations are the same when their document (one object per query
 * text: src/graphql/document-cache.ts), operation name and variables are; results do not depend on
 * the context, since no field resolver reads per-client state. An operation that was not
 * registered is executed per subscriber, as graphql's `subscribe` would.
 */
export interface SharedSubscribe {
  /** Marks `args` as sharing results with every other registered operation of the same document, name and variables. */
  register(args: ExecutionArgs): void;
  subscribe(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult>;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

export function makeSharedSubscribe(): SharedSubscribe {
  /** Operation name and variables of each registered subscription (its document is `args.document`). */
  const keys = new WeakMap<ExecutionArgs, string>();
  /** Per event: per document, per key, the iterator result every subscriber of that operation gets. */
  const results = new WeakMap<object, Map<DocumentNode, Map<string, Promise<IteratorResult<ExecutionResult>>>>>();

  const executeFor = (args: ExecutionArgs, payload: unknown): Promise<IteratorResult<ExecutionResult>> =>
    Promise.resolve(execute({ ...args, rootValue: payload })).then((value) => ({ value, done: false }));

  const resultFor = (args: ExecutionArgs, payload: unknown): Promise<IteratorResult<ExecutionResult>> => {
    const key = keys.get(args);
    if (key === undefined || typeof payload !== 'object' || payload === null) return executeFor(args, payload);
    let byDocument = results.get(payload);
    if (!byDocument) results.set(payload, (byDocument = new Map()));
    let byKey = byDocument.get(args.document);
    if (!byKey) byDocument.set(args.document, (byKey = new Map()));
    let result = byKey.get(key);
    if (!result) byKey.set(key, (result = executeFor(args, payload)));
    return result;
  };

  return {
    register(args) {
      keys.set(args, `${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? null)}`);
    },

    async subscribe(args) {
      const source = await createSourceEventStream(args);
      if (!(Symbol.asyncIterator in Object(source))) return source as ExecutionResult;
      const events = (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
      const onEvent = (r: IteratorResult<unknown>) => (r.done ? DONE : resultFor(args, r.value));
      // A plain iterator (not an async generator) so that `return()` reaches the source at once,
      // even while a `next()` is waiting for an event: the bus subscription is released right away.
      const mapped: AsyncIterableIterator<ExecutionResult> = {
        next: () => events.next().then(onEvent),
        async return() {
          await events.return?.();
          return DONE;
        },
        async throw(err: unknown) {
          await events.return?.();
          throw err;
        },
        [Symbol.asyncIterator]() {
          return this;
        },
      };
      return mapped;
    },
  };
}

const serialized = new WeakMap<ExecutionResult, string>();

/**
 * `JSON.stringify(result)`, made once per result object: shared results are serialized once for
 * every subscriber that receives them.
 */
export function resultJson(result: ExecutionResult): string {
  let json = serialized.get(result);
  if (json === undefined) serialized.set(result, (json = JSON.stringify(result)));
  return json;
}
