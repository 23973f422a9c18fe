import {
  createSourceEventStream,
  GraphQLError,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
} from 'graphql';
import type { GraphQLContext } from '../graphql/context';
import { operationKey, resultJson, type SharedExecution } from '../graphql/shared-execution';
import type { WsConnection } from './ws-connection';

/**
 * One WebSocket operation: its execution arguments, its id on the connection, and the key it shares
 * results under. One object per operation instead of several maps keyed by it.
 */
export class WsOperation implements ExecutionArgs {
  /** Same key, same document: same result for the same event (src/graphql/shared-execution.ts). */
  readonly key: string;

  constructor(
    readonly schema: GraphQLSchema,
    readonly document: DocumentNode,
    readonly variableValues: Record<string, unknown> | null | undefined,
    readonly operationName: string | null | undefined,
    readonly contextValue: GraphQLContext,
    /** The operation's id on its connection (graphql-transport-ws `id`). */
    readonly id: string,
    /** Its request id, for its errors and its logs (the context has the same). */
    readonly requestId: string,
  ) {
    this.key = operationKey(operationName, variableValues);
  }
}

/** What a client gets for a result: its errors formatted for its request (src/graphql/errors.ts). */
export type ResultFormatter = (
  op: WsOperation,
  result: ExecutionResult,
) => ExecutionResult | { data?: unknown; errors?: readonly GraphQLFormattedError[] };

/**
 * Runs a subscription operation to its end, sending its messages through `conn`.
 *
 * graphql-ws would execute and serialize every event for every socket; a thousand subscribers of
 * one operation would have the same result executed and serialized a thousand times. Here each
 * event's result comes from the shared execution (once per operation), and a result without errors
 * is sent as its `next` message with its payload serialized once per result object (only the `id`
 * is added per socket). A result with errors is formatted for this client's own request id.
 *
 * Each write is awaited before the next event is taken (a slow socket slows only its own stream;
 * the bus buffers for it, up to its limit). The stream's end sends `complete`; a stream that fails
 * sends `error` (its message kept, masked like any error that is not a client's); errors before the
 * stream starts (NOT_FOUND …) come as a `next` with errors, then `complete`, as graphql-ws sends
 * them. Once the client completes the operation, or the socket closes, nothing more is sent and the
 * source is ended at once, even while it waits for an event.
 */
export async function runSubscription(
  conn: WsConnection,
  op: WsOperation,
  shared: SharedExecution,
  format: ResultFormatter,
): Promise<void> {
  const source = await createSourceEventStream(op);
  if (!(Symbol.asyncIterator in Object(source))) {
    await conn.next(op.id, format(op, source as ExecutionResult));
    return conn.complete(op.id);
  }
  const events = (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  if (!conn.track(op.id, events)) {
    await events.return?.();
    return;
  }
  try {
    let more = true;
    while (more) more = await deliverNext(conn, op, events, shared, format);
  } catch (err) {
    const original = err instanceof Error ? err : new Error(String(err));
    const [formatted] = format(op, { errors: [new GraphQLError(original.message, { originalError: original })] }).errors ?? [];
    return conn.error(op.id, formatted ? [formatted] : []);
  }
  return conn.complete(op.id);
}

/**
 * Waits for the next event and delivers it; false once the stream is over. Its own frame, so that
 * no event outlives its delivery in the suspended loop (a snapshot is this subscriber's own).
 */
async function deliverNext(
  conn: WsConnection,
  op: WsOperation,
  events: AsyncIterator<unknown>,
  shared: SharedExecution,
  format: ResultFormatter,
): Promise<boolean> {
  const r = await events.next();
  if (r.done || !conn.isOpen(op.id)) return false;
  const pending = shared.resultFor(op, op.key, r.value);
  const result = pending instanceof Promise ? await pending : pending;
  if (result.errors?.length) await conn.next(op.id, format(op, result));
  else await conn.nextJson(op.id, resultJson(result));
  return true;
}
