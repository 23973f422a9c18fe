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
import type { WsMetrics } from '../metrics/metrics';
import { operationKey, resultJson, type SharedExecution } from '../graphql/shared-execution';
import type { WsConnection } from './ws-connection';

/**
 * One WebSocket operation: its execution arguments, its id on the connection, and the key it shares
 * results under. One object per operation instead of several maps keyed by it.
 */
export class WsOperation implements ExecutionArgs {
  /** Same key, same document: same result for the same event (src/graphql/shared-execution.ts). The key holds the caller's role. */
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
    /** What its result may depend on about the caller: its role. */
    rights: string,
    /** Its (first) root field, e.g. `runUpdated`: what `jobwire_websocket_subscriptions` counts it under. */
    readonly rootField = 'unknown',
  ) {
    this.key = operationKey(operationName, variableValues, rights);
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
  metrics?: WsMetrics,
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
  if (!metrics) return new Delivery(conn, op, events, shared, format).run();
  metrics.subscriptionStarted(op.rootField);
  return new Delivery(conn, op, events, shared, format, metrics).run().finally(() => metrics.subscriptionEnded(op.rootField));
}

/**
 * The events of one running subscription, delivered one after the other (see {@link runSubscription}).
 * Written with callbacks rather than as an async loop: an open subscription holds this object and
 * one pending `next()`, not suspended frames (an async loop would also keep the last event in its
 * frame, the subscriber's own snapshot until the first change arrives). Never a chain of promises
 * that grows per event: each step starts the next from a callback.
 */
class Delivery {
  private resolve!: () => void;
  private reject!: (err: unknown) => void;
  /** When the event being sent was published on the bus (only with metrics; a number, not the event). */
  private publishedAt: number | undefined;

  constructor(
    private readonly conn: WsConnection,
    private readonly op: WsOperation,
    private readonly events: AsyncIterator<unknown>,
    private readonly shared: SharedExecution,
    private readonly format: ResultFormatter,
    private readonly metrics?: WsMetrics,
  ) {}

  /** Resolves once the stream is over and its `complete` (or `error`) sent. */
  run(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      this.pull();
    });
  }

  private readonly pull = (): void => {
    this.events.next().then(this.onEvent, this.onFailure);
  };

  private readonly onEvent = (r: IteratorResult<unknown>): void => {
    if (r.done || !this.conn.isOpen(this.op.id)) {
      this.conn.complete(this.op.id).then(this.resolve, this.reject);
      return;
    }
    if (this.metrics) this.publishedAt = this.metrics.publishedAt(r.value);
    try {
      const pending = this.shared.resultFor(this.op, this.op.key, r.value);
      if (pending instanceof Promise) pending.then(this.onResult, this.onFailure);
      else this.onResult(pending);
    } catch (err) {
      this.onFailure(err);
    }
  };

  private readonly onResult = (result: ExecutionResult): void => {
    const { conn, op } = this;
    const sent = result.errors?.length ? conn.next(op.id, this.format(op, result)) : conn.nextJson(op.id, resultJson(result));
    sent.then(this.metrics ? this.sent : this.pull, this.reject);
  };

  /** A message is written: its delivery latency is observed when its event came from the bus, then the next event. */
  private readonly sent = (): void => {
    if (this.publishedAt !== undefined) this.metrics!.delivered(this.publishedAt);
    this.publishedAt = undefined;
    this.pull();
  };

  /** The stream failed: `error` with its message (masked like any error that is not a client's). */
  private readonly onFailure = (err: unknown): void => {
    const original = err instanceof Error ? err : new Error(String(err));
    const [formatted] = this.format(this.op, { errors: [new GraphQLError(original.message, { originalError: original })] }).errors ?? [];
    this.conn.error(this.op.id, formatted ? [formatted] : []).then(this.resolve, this.reject);
  };
}
