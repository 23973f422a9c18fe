import type { IncomingMessage } from 'node:http';
import { CloseCode, handleProtocols, makeServer, type ServerOptions, type WebSocket as ProtocolSocket } from 'graphql-ws';
import type { WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../logger';

/**
 * The adapter between graphql-ws's protocol server (`makeServer`, which knows only a four-member
 * socket) and `ws`, in place of graphql-ws's own `useServer`. It does the same, holding less per
 * connection, which matters at thousands of open dashboards:
 *
 * - `ctx.extra` is the socket and a name for the connection (from its upgrade request), not the
 *   whole upgrade request (headers and all, kept as long as the socket lives);
 * - one keep-alive timer for all sockets instead of an interval and a timeout per socket: every
 *   `keepAliveMs` each open socket that has not answered the previous ping is terminated, the
 *   others are pinged;
 * - the socket's methods live on a prototype (one small object per connection), and the error and
 *   pong listeners are shared by every socket.
 *
 * A message the protocol server fails on closes that socket with 1011 "Internal server error" and is
 * logged in full (the reason never carries the message); so does an error on the socket itself.
 */
export interface SocketExtra {
  socket: WebSocket;
  /** What {@link ServeOptions.connectionId} made of the upgrade request. */
  connectionId: string;
}

export interface ServeOptions {
  logger: Logger;
  /** Names a connection from its upgrade request (the only thing kept of the request), e.g. its `x-request-id`. */
  connectionId: (request: IncomingMessage) => string;
  /** Ping interval, and how long a pong may take. 0 turns keep-alive off. Default 12 s, as graphql-ws. */
  keepAliveMs?: number;
}

export interface ServedWebSocket {
  /** Closes every socket with 1001 "Going away", stops the keep-alive and the server. Idempotent. */
  dispose(): Promise<void>;
}

const INTERNAL_ERROR = 'Internal server error';

/** The protocol server's view of one `ws` socket. */
class ProtocolSocketAdapter implements ProtocolSocket {
  constructor(
    readonly ws: WebSocket,
    private readonly logger: Logger,
  ) {}

  get protocol(): string {
    return this.ws.protocol;
  }

  send(data: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.ws.readyState !== this.ws.OPEN) return resolve();
      this.ws.send(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  onMessage(cb: (data: string) => Promise<void>): void {
    this.ws.on('message', (data) => {
      cb(String(data)).catch((err: unknown) => {
        this.logger.error({ err, component: 'graphql-ws' }, 'error while handling a WebSocket message');
        this.ws.close(CloseCode.InternalServerError, INTERNAL_ERROR);
      });
    });
  }
}

/** Keep-alive bookkeeping: sockets pinged and not yet answered. */
const awaitingPong = new WeakSet<WebSocket>();
function onPong(this: WebSocket) {
  awaitingPong.delete(this);
}

/**
 * Serves the graphql-transport-ws protocol (`options` as for graphql-ws `makeServer`) on `wss`.
 * Rejects other subprotocols (graphql-ws closes them with 4406).
 */
export function serveGraphQLWebSocket(
  options: ServerOptions<Record<string, unknown> | undefined, SocketExtra>,
  wss: WebSocketServer,
  opts: ServeOptions,
): ServedWebSocket {
  const { logger } = opts;
  const keepAliveMs = opts.keepAliveMs ?? 12_000;
  const server = makeServer(options);
  wss.options.handleProtocols = handleProtocols;

  wss.once('error', (err) => {
    logger.error({ err, component: 'graphql-ws' }, 'WebSocket server error: closing every socket');
    for (const client of wss.clients) client.close(CloseCode.InternalServerError, INTERNAL_ERROR);
  });

  function onSocketError(this: WebSocket, err: Error) {
    logger.error({ err, component: 'graphql-ws' }, 'WebSocket error');
    this.close(CloseCode.InternalServerError, INTERNAL_ERROR);
  }

  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    // `on`, not `once`: each `once` wraps its listener anew for every socket. A socket closes once.
    socket.on('error', onSocketError);
    socket.on('pong', onPong);
    const closed = server.opened(new ProtocolSocketAdapter(socket, logger), { socket, connectionId: opts.connectionId(request) });
    socket.on('close', (code, reason) => {
      awaitingPong.delete(socket);
      closed(code, String(reason)).catch((err: unknown) =>
        logger.error({ err, component: 'graphql-ws' }, 'error while closing a WebSocket connection'),
      );
    });
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
