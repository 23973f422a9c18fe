import { CloseCode, MessageType, parseMessage, type SubscribePayload } from 'graphql-ws';
import type { ExecutionResult, GraphQLFormattedError } from 'graphql';
import type { WebSocket } from 'ws';
import type { AuthResult } from '../auth/auth-result';
import type { Principal } from '../auth/roles';
import type { Logger } from '../logger';

/**
 * One socket of the graphql-transport-ws protocol (src/server/ws-protocol.ts serves it): its state,
 * its open operations, and what it sends. Messages of an operation the client has completed are
 * dropped, so the code running an operation can send without asking.
 *
 * The protocol, as graphql-ws has it: `connection_init` once (else 4429), acknowledged once its
 * `connectionParams` authenticate (else closed with 4403 Forbidden, or 1013 when the credentials
 * could not be checked; a socket whose token expires is closed with 4403 too);
 * `subscribe` only after it (else 4401) with an id not in use (else 4409); `complete` from the
 * client ends its operation (no `complete` back); `ping` is answered with `pong` (payload echoed);
 * a message that does not parse or validate (graphql-ws's own `parseMessage`) closes with 4400. A
 * failure while handling a message closes the socket with 4500 "Internal server error" and is
 * logged in full.
 */

/** What an operation does (src/server/ws.ts): the connection only hands it its `subscribe` message. */
export interface OperationRunner {
  /** Authenticates a socket's `connection_init` payload (its `connectionParams`). */
  connect(conn: WsConnection, params: unknown): Promise<AuthResult>;
  /** Runs one `subscribe` message to its end, sending its messages through `conn`. */
  run(conn: WsConnection, id: string, payload: SubscribePayload): Promise<void>;
}

export const INTERNAL_ERROR = 'Internal server error';
/** Most messages a client may send after `connection_init` before it is acknowledged (they wait for the ack). */
const MAX_WAITING = 100;
/** WebSocket close code 1013 "Try Again Later" (RFC 6455 registry): credentials could not be checked just now. */
export const TRY_AGAIN_LATER = 1013;

/** Something an operation streams from, ended when the client completes it or leaves. */
interface Closable {
  return?(): unknown;
}

/**
 * The open operations of a connection, by id: their stream once it runs, null while it starts.
 * Nearly every connection has one, so it lives in two fields; only more than one takes a map (an
 * empty Map alone is a couple of hundred bytes, per open socket).
 */
class Operations {
  private firstId: string | undefined;
  private first: Closable | null = null;
  private rest: Map<string, Closable | null> | undefined;

  has(id: string): boolean {
    return id === this.firstId || (this.rest?.has(id) ?? false);
  }

  get(id: string): Closable | null | undefined {
    return id === this.firstId ? this.first : this.rest?.get(id);
  }

  set(id: string, stream: Closable | null): void {
    if (this.rest?.has(id)) this.rest.set(id, stream);
    else if (this.firstId === undefined || this.firstId === id) {
      this.firstId = id;
      this.first = stream;
    } else (this.rest ??= new Map()).set(id, stream);
  }

  /** True when `id` was open. */
  delete(id: string): boolean {
    if (id !== this.firstId) return this.rest?.delete(id) ?? false;
    this.firstId = undefined;
    this.first = null;
    return true;
  }

  /** Every stream, the table left empty. */
  drain(): (Closable | null)[] {
    const streams = this.firstId === undefined ? [] : [this.first];
    if (this.rest) streams.push(...this.rest.values());
    this.firstId = undefined;
    this.first = null;
    this.rest = undefined;
    return streams;
  }
}

/** One socket's protocol state and open operations; `initTimer` is set by the server. */
export class WsConnection {
  private initReceived = false;
  private readonly operations = new Operations();
  /** Who is on this socket: set when `connection_init` authenticated (and acknowledged). */
  principal?: Principal;
  /** Messages that came while `connection_init` was being authenticated: handled, in order, once it is. */
  private waiting?: string[];
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
    if (this.waiting) {
      if (this.waiting.length >= MAX_WAITING) return this.socket.close(CloseCode.BadRequest, 'Too many messages before connection_ack');
      this.waiting.push(data);
      return;
    }
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
        this.waiting = [];
        return void this.guard(this.accept(runner, message.payload));
      case MessageType.Ping:
        return void this.guard(
          this.send(JSON.stringify(message.payload ? { type: MessageType.Pong, payload: message.payload } : { type: MessageType.Pong })),
        );
      case MessageType.Pong:
        return;
      case MessageType.Subscribe: {
        if (!this.principal) return this.socket.close(CloseCode.Unauthorized, 'Unauthorized');
        if (this.expired(Date.now())) return this.socket.close(CloseCode.Forbidden, 'Forbidden: the token has expired');
        const { id } = message;
        if (this.operations.has(id)) return this.socket.close(CloseCode.SubscriberAlreadyExists, `Subscriber for ${id} already exists`);
        this.operations.set(id, null);
        return this.run(runner, id, message.payload);
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

  /** True once the credential this socket was opened with has expired (a JWT's `exp`). */
  expired(now: number): boolean {
    const at = this.principal?.expiresAt;
    return at !== undefined && at <= now;
  }

  /** `connection_init`: acknowledged once its params authenticate, else the socket is closed. */
  private async accept(runner: OperationRunner, params: unknown): Promise<void> {
    let result: AuthResult;
    try {
      result = await runner.connect(this, params);
    } catch (err) {
      this.waiting = undefined;
      throw err;
    }
    const queued = this.waiting ?? [];
    this.waiting = undefined;
    if (this.socket.readyState !== this.socket.OPEN) return;
    if (!result.ok) {
      // The reason is a close frame's: at most 123 bytes.
      if (result.code === 'UNAVAILABLE') return this.socket.close(TRY_AGAIN_LATER, 'Try again later');
      return this.socket.close(CloseCode.Forbidden, `Forbidden: ${result.message}`.slice(0, 120));
    }
    this.principal = result.principal;
    const ack = this.send(`{"type":"${MessageType.ConnectionAck}"}`);
    // A client that did not wait for the ack (pipelined `subscribe`, `ping`) is served after it.
    for (const data of queued) this.receive(data, runner);
    await ack;
  }

  /**
   * One operation, from its `subscribe` to its end (which closes it: `complete` or `error`). Not an
   * async function, whose frame an open subscription would keep for hours.
   */
  private run(runner: OperationRunner, id: string, payload: SubscribePayload): void {
    let running: Promise<void>;
    try {
      running = runner.run(this, id, payload);
    } catch (err) {
      running = Promise.reject(err); // thrown before its first await: the same path, not an uncaught throw in a socket listener
    }
    running.catch((err: unknown) => {
      this.operations.delete(id);
      this.fail(err, 'error while handling a WebSocket message');
    });
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
    return Promise.all(this.operations.drain().map((s) => s?.return?.()));
  }
}
