import type { ExecutionResult } from 'graphql';
import type { WebSocket } from 'ws';
import { resultJson } from '../graphql/shared-execution';

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

/**
 * The fast path of a subscription's `next` messages. graphql-ws serializes every message for every
 * socket (`{"id":…,"type":"next","payload":…}`); a thousand subscribers of one operation would
 * serialize the same result a thousand times. Here a result without errors is written straight to
 * the socket as the graphql-ws message, its payload serialized once per result object (results are
 * shared per operation: src/graphql/shared-execution.ts) and only the `id` added per socket.
 *
 * The iterator handed back to graphql-ws yields only what still needs it: a result with errors
 * (each client's errors are formatted for its own request id, by the `onNext` hook), and the end of
 * the stream, after which graphql-ws sends `complete` as usual: every message keeps its order. Each
 * write is awaited before the next result is taken (a slow socket slows only its own stream; the
 * bus buffers for it). Nothing is written once the operation was completed or the socket closed.
 */
export function sendingNextDirectly(
  results: AsyncIterableIterator<ExecutionResult>,
  socket: WebSocket,
  id: string,
): AsyncIterableIterator<ExecutionResult> {
  const prefix = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
  let ended = false;
  const write = (data: string) =>
    new Promise<void>((resolve, reject) => {
      if (socket.readyState !== socket.OPEN) return resolve();
      socket.send(data, (err) => (err ? reject(err) : resolve()));
    });
  const forward = async (): Promise<IteratorResult<ExecutionResult>> => {
    for (;;) {
      const r = await results.next();
      if (r.done || ended) return DONE;
      if (r.value.errors?.length) return r;
      await write(prefix + resultJson(r.value) + '}');
    }
  };
  return {
    next: forward,
    return() {
      ended = true;
      return results.return ? results.return().then(() => DONE) : Promise.resolve(DONE);
    },
    throw(err?: unknown) {
      ended = true;
      return (results.return ? results.return() : Promise.resolve()).then(() => Promise.reject(err));
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
