import { createSourceEventStream, execute, type ExecutionArgs, type ExecutionResult } from 'graphql';

/**
 * A drop-in for graphql's `subscribe` (given to graphql-ws) that executes each event's selection set
 * once per distinct operation instead of once per subscriber.
 *
 * graphql's own `subscribe` runs `execute` for every subscriber and every event. A dashboard watched
 * by a thousand clients sends the same operation (same text, same variables) and receives the same
 * event object (the bus hands one parsed object to every local listener), so all of them would get
 * the same result a thousand times over. Here the result is cached per event object and operation
 * key, so it is computed once; streams that build per-subscriber payloads (log chunks) simply miss
 * the cache. Results do not depend on the context: no field resolver reads per-client state.
 */
export function makeSharedSubscribe() {
  /** Operation key of each subscription's execution args (set by `register`). */
  const keys = new WeakMap<ExecutionArgs, string>();
  const results = new WeakMap<object, Map<string, Promise<ExecutionResult>>>();

  const run = (args: ExecutionArgs, payload: unknown): Promise<ExecutionResult> => {
    const key = keys.get(args);
    if (key === undefined || typeof payload !== 'object' || payload === null) {
      return Promise.resolve(execute({ ...args, rootValue: payload }));
    }
    let perEvent = results.get(payload);
    if (!perEvent) results.set(payload, (perEvent = new Map()));
    let result = perEvent.get(key);
    if (!result) {
      result = Promise.resolve(execute({ ...args, rootValue: payload }));
      perEvent.set(key, result);
    }
    return result;
  };

  return {
    /** Marks `args` as sharing results with every other operation of the same text and variables. */
    register(args: ExecutionArgs, query: string, variables: unknown, operationName: string | null | undefined): void {
      keys.set(args, `${operationName ?? ''}\u0000${JSON.stringify(variables ?? null)}\u0000${query}`);
    },

    async subscribe(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
      const source = await createSourceEventStream(args);
      if (!(Symbol.asyncIterator in Object(source))) return source as ExecutionResult;
      const events = (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
      // A plain iterator (not an async generator) so that `return()` reaches the source at once,
      // even while a `next()` is waiting for an event: the bus subscription is released right away.
      const mapped: AsyncIterableIterator<ExecutionResult> = {
        async next() {
          const r = await events.next();
          return r.done ? { value: undefined, done: true } : { value: await run(args, r.value), done: false };
        },
        async return() {
          await events.return?.();
          return { value: undefined, done: true };
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
