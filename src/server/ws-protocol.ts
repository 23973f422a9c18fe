import type { IncomingMessage } from 'node:http';
import { CloseCode, GRAPHQL_TRANSPORT_WS_PROTOCOL, handleProtocols, MessageType, parseMessage, type SubscribePayload } from 'graphql-ws';
import type { ExecutionResult, GraphQLFormattedError } from 'graphql';
import type { WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../logger';

/**
 * The graphql-transport-ws protocol (what graphql-ws's `makeServer` speaks) on `ws` sockets, with
 * graphql-ws's own message parsing and validation, and little held per connection: dashboards keep
 * thousands of sockets open, each with a subscription, for hours.
 *
 * Per connection one {@link WsConnection} (its state and open operations) and nothing else: the
 * listeners are shared by every socket, the upgrade request is not kept (only the name
 * `connectionId` gives it), one keep-alive timer serves every socket (each `keepAliveMs` a socket
 * that has not answered the previous ping is terminated, the others are pinged). What an operation
 * does is the {@link OperationRunner}'s business; it sends through the connection, which drops
 * messages of an operation the client has completed.
 *
 * The protocol, as graphql-ws has it: `connection_init` within `initTimeoutMs` (else 4408), once
 * (else 4429), acknowledged; `subscribe` only after it (else 4401) with an id not in use (else
 * 4409); `complete` from the client ends its operation (no `complete` back); `ping` is answered with
 * `pong` (payload echoed); a message that does not parse or validate closes with 4400; another
 * subprotocol with 4406. A failure while handling a message closes the socket with 4500 "Internal
 * server error" and is logged in full.
 */
export interface OperationRunner {
  /** Runs one `subscribe` message to its end, sending its messages through `conn`. */
  run(conn: WsConnection, id: string, payload: SubscribePayload): Promise<void>;
}

export interface ProtocolOptions {
  logger: Logger;
  /** Names a connection from its upgrade request, e.g. by its `x-request-id`. */
  connectionId: (request: IncomingMessage) => string;
  /** Ping interval, and how long a pong may take. 0 turns keep-alive off. Default 12 s, as graphql-ws. */
  keepAliveMs?: number;
  /** How long a client has to send `connection_init`. Default 3 s, as graphql-ws. */
  initTimeoutMs?: number;
}

const INTERNAL_ERROR = 'Internal server error';

/** Something an operation streams from, ended when the client completes it or leaves. */
interface Closable {
  return?(): unknown;
}

/** One socket's protocol state and open operations. */
export class WsConnection {
  private initReceived = false;
  private acknowledged = false;
  /** Open operations: their stream once it runs, null while it starts. */
  private readonly operations = new Map<string, Closable | null>();
  /** Pending until `connection_init` arrives. */
  initTimer?: NodeJS.Timeout;

  constructor(
    readonly socket: WebSocket,
    /** What {@link ProtocolOptions.connectionId} made of the upgrade request. */
    readonly id: string,
    private readonly logger: Logger,
  ) {}

  /** True while operation `id` is open: the client has not completed it and the socket is open. */
  isOpen(id: string): boolean {
    return this.operations.has(id);
  }

  /**
   * Attaches `stream` to operation `id`, for `complete` and closing to end it. False when the
   * operation was completed meanwhile (the caller ends the stream).
   */
  track(id: string, stream: Closable): boolean {
    if (!this.operations.has(id)) return false;
    this.operations.set(id, stream);
    return true;
  }

  /** Sends a `next` whose payload is already JSON (shared between subscribers), if `id` is open. */
  nextJson(id: string, payloadJson: string): Promise<void> {
    if (!this.operations.has(id)) return Promise.resolve();
    return this.send(`{"id":${JSON.stringify(id)},"type":"${MessageType.Next}","payload":${payloadJson}}`);
  }

  /** Sends a `next` with `result`, if `id` is open. */
  next(id: string, result: ExecutionResult | { data?: unknown; errors?: readonly GraphQLFormattedError[] }): Promise<void> {
    return this.nextJson(id, JSON.stringify(result));
  }

  /** Sends `error` and closes operation `id`, if it is open. */
  error(id: string, errors: readonly GraphQLFormattedError[]): Promise<void> {
    if (!this.operations.delete(id)) return Promise.resolve();
    return this.send(JSON.stringify({ id, type: MessageType.Error, payload: errors }));
  }

  /** Sends `complete` and closes operation `id`, if it is open. */
  complete(id: string): Promise<void> {
    if (!this.operations.delete(id)) return Promise.resolve();
    return this.send(JSON.stringify({ id, type: MessageType.Complete }));
  }

  /** Writes one message; resolves once written (back-pressure), at once when the socket is closed. */
  send(data: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.socket.readyState !== this.socket.OPEN) return resolve();
      this.socket.send(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Handles one message from the client (never throws: a failure closes the socket). */
  receive(data: string, runner: OperationRunner): void {
    let message: ReturnType<typeof parseMessage>;
    try {
      message = parseMessage(data);
    } catch {
      return this.socket.close(CloseCode.BadRequest, 'Invalid message received');
    }
    switch (message.type) {
      case MessageType.ConnectionInit:
        if (this.initReceived) return this.socket.close(CloseCode.TooManyInitialisationRequests, 'Too many initialisation requests');
        this.initReceived = true;
        clearTimeout(this.initTimer);
        this.initTimer = undefined;
        this.acknowledged = true;
        return void this.guard(this.send(`{"type":"${MessageType.ConnectionAck}"}`));
      case MessageType.Ping:
        return void this.guard(
          this.send(JSON.stringify(message.payload ? { type: MessageType.Pong, payload: message.payload } : { type: MessageType.Pong })),
        );
      case MessageType.Pong:
        return;
      case MessageType.Subscribe: {
        if (!this.acknowledged) return this.socket.close(CloseCode.Unauthorized, 'Unauthorized');
        const { id } = message;
        if (this.operations.has(id)) return this.socket.close(CloseCode.SubscriberAlreadyExists, `Subscriber for ${id} already exists`);
        this.operations.set(id, null);
        return void this.run(runner, id, message.payload);
      }
      case MessageType.Complete: {
        const stream = this.operations.get(message.id);
        this.operations.delete(message.id);
        return void this.guard(Promise.resolve(stream?.return?.()));
      }
      default:
        return this.fail(new Error(`Unexpected message of type ${message.type} received`), 'error while handling a WebSocket message');
    }
  }

  /** One operation, from its `subscribe` to its end. */
  private async run(runner: OperationRunner, id: string, payload: SubscribePayload): Promise<void> {
    try {
      await runner.run(this, id, payload);
    } catch (err) {
      this.fail(err, 'error while handling a WebSocket message');
    } finally {
      this.operations.delete(id);
    }
  }

  private async guard(work: Promise<unknown>): Promise<void> {
    try {
      await work;
    } catch (err) {
      this.fail(err, 'error while handling a WebSocket message');
    }
  }

  /** Logs `err` in full and closes the socket with 4500 (the reason never carries the message). */
  fail(err: unknown, what: string): void {
    this.logger.error({ err, component: 'graphql-ws' }, what);
    this.socket.close(CloseCode.InternalServerError, INTERNAL_ERROR);
  }

  /** The socket closed: ends every open operation. */
  closed(): Promise<unknown> {
    clearTimeout(this.initTimer);
    const streams = [...this.operations.values()];
    this.operations.clear();
    return Promise.all(streams.map((s) => s?.return?.()));
  }
}

export interface ServedProtocol {
  /** Closes every socket with 1001 "Going away", stops the keep-alive and the server. Idempotent. */
  dispose(): Promise<void>;
}

/** Serves the protocol on `wss`, running operations with `runner`. */
export function serveGraphQLTransportWs(wss: WebSocketServer, runner: OperationRunner, opts: ProtocolOptions): ServedProtocol {
  const { logger } = opts;
  const keepAliveMs = opts.keepAliveMs ?? 12_000;
  const initTimeoutMs = opts.initTimeoutMs ?? 3_000;
  const connections = new WeakMap<WebSocket, WsConnection>();
  const awaitingPong = new WeakSet<WebSocket>();
  wss.options.handleProtocols = handleProtocols;

  // Shared by every socket (`this` is the socket): no listener closures per connection.
  function onMessage(this: WebSocket, data: unknown) {
    connections.get(this)?.receive(String(data), runner);
  }
  function onClose(this: WebSocket) {
    awaitingPong.delete(this);
    connections
      .get(this)
      ?.closed()
      .catch((err: unknown) => logger.error({ err, component: 'graphql-ws' }, 'error while closing a WebSocket connection'));
  }
  function onError(this: WebSocket, err: Error) {
    logger.error({ err, component: 'graphql-ws' }, 'WebSocket error');
    this.close(CloseCode.InternalServerError, INTERNAL_ERROR);
  }
  function onPong(this: WebSocket) {
    awaitingPong.delete(this);
  }

  wss.once('error', (err) => {
    logger.error({ err, component: 'graphql-ws' }, 'WebSocket server error: closing every socket');
    for (const client of wss.clients) client.close(CloseCode.InternalServerError, INTERNAL_ERROR);
  });
  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    if (socket.protocol !== GRAPHQL_TRANSPORT_WS_PROTOCOL)
      return socket.close(CloseCode.SubprotocolNotAcceptable, 'Subprotocol not acceptable');
    const conn = new WsConnection(socket, opts.connectionId(request), logger);
    connections.set(socket, conn);
    if (initTimeoutMs > 0 && Number.isFinite(initTimeoutMs)) {
      conn.initTimer = setTimeout(
        () => socket.close(CloseCode.ConnectionInitialisationTimeout, 'Connection initialisation timeout'),
        initTimeoutMs,
      );
      conn.initTimer.unref();
    }
    socket.on('message', onMessage);
    socket.on('close', onClose);
    socket.on('error', onError);
    socket.on('pong', onPong);
  });

  const heartbeat =
    keepAliveMs > 0 && Number.isFinite(keepAliveMs)
      ? setInterval(() => {
          for (const client of wss.clients) {
            if (client.readyState !== client.OPEN) continue;
            if (awaitingPong.has(client)) {
              client.terminate();
              continue;
            }
            awaitingPong.add(client);
            client.ping();
          }
        }, keepAliveMs)
      : null;
  heartbeat?.unref();

  let disposing: Promise<void> | null = null;
  return {
    dispose() {
      disposing ??= (async () => {
        if (heartbeat) clearInterval(heartbeat);
        for (const client of wss.clients) client.close(1001, 'Going away');
        wss.removeAllListeners();
        await new Promise<void>((resolve, reject) => wss.close((err) => (err ? reject(err) : resolve())));
      })();
      return disposing;
    },
  };
}
