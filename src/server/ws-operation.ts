import { createSourceEventStream, type DocumentNode, type ExecutionArgs, type ExecutionResult, type GraphQLSchema } from 'graphql';
import type { WebSocket } from 'ws';
import type { GraphQLContext } from '../graphql/context';
import { operationKey, resultJson, type SharedExecution } from '../graphql/shared-execution';

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

/**
 * One graphql-ws operation: its execution arguments, plus where its messages go and what it shares
 * its results with. One object per operation instead of several maps keyed by it.
 */
export class WsOperation implements ExecutionArgs {
  /** Set by graphql-ws (`roots`, unused here). */
  rootValue?: unknown;
  /** Same key, same document: same result for the same event (src/graphql/shared-execution.ts). */
  readonly key: string;

  constructor(
    readonly schema: GraphQLSchema,
    readonly document: DocumentNode,
    readonly variableValues: Record<string, unknown> | null | undefined,
    readonly operationName: string | null | undefined,
    readonly contextValue: GraphQLContext,
    /** The socket and the graphql-ws id of the operation. */
    readonly socket: WebSocket,
    readonly id: string,
  ) {
    this.key = operationKey(operationName, variableValues);
  }
}

/**
 * graphql's `subscribe` for a {@link WsOperation}, with the fast path of its `next` messages.
 *
 * graphql-ws serializes every message for every socket (`{"id":…,"type":"next","payload":…}`): a
 * thousand subscribers of one operation would have the same result executed and serialized a
 * thousand times. Here each event's result comes from the shared execution (once per operation),
 * and a result without errors is written straight to the socket as the graphql-ws message, its
 * payload serialized once per result object and only the `id` added per socket.
 *
 * The iterator handed back to graphql-ws yields only what still needs it: a result with errors
 * (each client's errors are formatted for its own request id by the `onNext` hook), and the end of
 * the stream, after which graphql-ws sends `complete` as usual, so every message keeps its order.
 * Each write is awaited before the next event is taken (a slow socket slows only its own stream;
 * the bus buffers for it, up to its limit). Nothing is written once the client completed the
 * operation or the socket closed. `return()` reaches the source at once, even while waiting for an
 * event, so the bus subscription is released right away.
 */
export async function subscribeWs(
  op: WsOperation,
  shared: SharedExecution,
): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const source = await createSourceEventStream(op);
  if (!(Symbol.asyncIterator in Object(source))) return source as ExecutionResult;
  return new DirectNext(op, (source as AsyncIterable<unknown>)[Symbol.asyncIterator](), shared);
}

/** The iterator of {@link subscribeWs}; state in fields, so an open subscription holds one small object. */
class DirectNext implements AsyncIterableIterator<ExecutionResult> {
  private ended = false;

  constructor(
    private readonly op: WsOperation,
    private readonly events: AsyncIterator<unknown>,
    private readonly shared: SharedExecution,
  ) {}

  // A loop in one async call, not a chain of promises (which would grow by one link per event
  // sent). The suspended loop holds neither the event nor its result between events.
  async next(): Promise<IteratorResult<ExecutionResult>> {
    for (;;) {
      const out = await this.deliverNext();
      if (out) return out;
    }
  }

  /** Waits for the next event and delivers it; its own frame, so no event outlives its delivery (a snapshot is this subscriber's own). */
  private async deliverNext(): Promise<IteratorResult<ExecutionResult> | undefined> {
    return this.deliver(await this.events.next());
  }

  /** Sends one event's result directly; what graphql-ws must still handle (the end, errors) comes back. */
  private deliver(r: IteratorResult<unknown>): IteratorResult<ExecutionResult> | Promise<IteratorResult<ExecutionResult> | undefined> {
    if (r.done || this.ended) return DONE;
    const shared = this.shared.resultFor(this.op, this.op.key, r.value);
    if (shared instanceof Promise) return shared.then((result) => this.send(result));
    return this.send(shared);
  }

  private send(result: ExecutionResult): IteratorResult<ExecutionResult> | Promise<undefined> {
    if (result.errors?.length) return { value: result, done: false };
    return this.write(`{"id":${JSON.stringify(this.op.id)},"type":"next","payload":${resultJson(result)}}`);
  }

  return(): Promise<IteratorResult<ExecutionResult>> {
    this.ended = true;
    return this.events.return ? this.events.return().then(() => DONE) : Promise.resolve(DONE);
  }

  throw(err?: unknown): Promise<IteratorResult<ExecutionResult>> {
    this.ended = true;
    return (this.events.return ? this.events.return() : Promise.resolve()).then(() => Promise.reject(err));
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  private write(data: string): Promise<undefined> {
    const { socket } = this.op;
    return new Promise((resolve, reject) => {
      if (this.ended || socket.readyState !== socket.OPEN) return resolve(undefined);
      socket.send(data, (err) => (err ? reject(err) : resolve(undefined)));
    });
  }
}
