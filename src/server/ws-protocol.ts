import type { IncomingMessage } from 'node:http';
import { CloseCode, GRAPHQL_TRANSPORT_WS_PROTOCOL, handleProtocols } from 'graphql-ws';
import type { WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../logger';
import type { WsMetrics } from '../metrics/metrics';
import { INTERNAL_ERROR, WsConnection, type OperationRunner } from './ws-connection';

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
 * The protocol's rules are the connection's (src/server/ws-connection.ts); here: a client must send
 * `connection_init` within `initTimeoutMs` (else 4408; one that arrived in time counts even when the
 * server, busy, reads it late), a socket without the subprotocol is closed with 4406, and at each
 * keep-alive tick a socket whose token has expired is closed with 4403.
 */

export interface ProtocolOptions {
  /** Where failures are logged in full. */
  logger: Logger;
  /** Names a connection from its upgrade request, e.g. by its `x-request-id`. */
  connectionId: (request: IncomingMessage) => string;
  /** Ping interval, and how long a pong may take. 0 turns keep-alive off. Default 12 s, as graphql-ws. */
  keepAliveMs?: number;
  /** How long a client has to send `connection_init`. Default 3 s, as graphql-ws. */
  initTimeoutMs?: number;
  /** Told of every connection of the protocol opened and closed (`jobwire_websocket_connections`). */
  metrics?: Pick<WsMetrics, 'connectionOpened' | 'connectionClosed'>;
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
    opts.metrics?.connectionClosed();
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
    opts.metrics?.connectionOpened();
    if (initTimeoutMs > 0 && Number.isFinite(initTimeoutMs)) {
      conn.initTimer = setTimeout(() => {
        // Timers run before the event loop reads sockets: after a stall (a burst of upgrades), a
        // connection_init that has arrived may not have been read yet. Look again once pending I/O
        // is handled (reading it clears `initTimer`), so the client does not pay for our lag.
        setImmediate(() => {
          if (conn.initTimer) socket.close(CloseCode.ConnectionInitialisationTimeout, 'Connection initialisation timeout');
        });
      }, initTimeoutMs);
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
          const now = Date.now();
          for (const client of wss.clients) {
            if (client.readyState !== client.OPEN) continue;
            if (connections.get(client)?.expired(now)) {
              client.close(CloseCode.Forbidden, 'Forbidden: the token has expired');
              continue;
            }
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
