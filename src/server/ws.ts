import type { Server as HttpServer } from 'node:http';
import type { GraphQLError, GraphQLSchema } from 'graphql';
import { WebSocketServer } from 'ws';
import { makeComplexityCheck } from '../graphql/complexity-cache';
import type { ContextFactory } from '../graphql/context';
import { requestIdFrom } from '../graphql/context';
import { DocumentCache } from '../graphql/document-cache';
import { formatGraphQLError } from '../graphql/errors';
import { checkQuerySize, type QueryLimits } from '../graphql/limits';
import { makeSharedExecution } from '../graphql/shared-execution';
import type { Logger } from '../logger';
import { serveGraphQLWebSocket, type SocketExtra } from './ws-adapter';
import { subscribeWs, WsOperation } from './ws-operation';

export interface GraphQLWebSocketOptions {
  httpServer: HttpServer;
  schema: GraphQLSchema;
  contextFactory: ContextFactory;
  limits: QueryLimits;
  logger: Logger;
  /** Ping interval, and how long a pong may take before the socket is cut. Default 12 s. */
  keepAliveMs?: number;
}

/** After `dispose()` asks clients to go (1001), how long before the stragglers are cut. */
const CLOSE_GRACE_MS = 2000;

export interface GraphQLWebSocket {
  wss: WebSocketServer;
  /** Closes every socket with 1001 "Going away" and stops accepting. Idempotent. */
  dispose(): Promise<void>;
}

/**
 * graphql-ws (graphql-transport-ws protocol) on the HTTP server's port and path. Every operation
 * goes through the same limits as HTTP (size before parsing, validation + depth, complexity with
 * its variables; parsing, validation and complexity remembered per query text), gets its own
 * context (request id `<x-request-id of the upgrade, or a uuid per connection>.<op id>`), and its
 * errors are mapped exactly like Apollo's (src/graphql/errors.ts). A subscription event is executed
 * once per distinct operation and its `next` message serialized once (src/server/ws-operation.ts).
 */
export function attachGraphQLWebSocket(opts: GraphQLWebSocketOptions): GraphQLWebSocket {
  const { schema, limits, logger } = opts;
  const wss = new WebSocketServer({ server: opts.httpServer, path: '/graphql' });
  const documents = new DocumentCache(schema, limits);
  const complexity = makeComplexityCheck(schema, limits);
  const shared = makeSharedExecution();
  const requestIdOf = (extra: SocketExtra, id: string) => `${extra.connectionId}.${id}`;
  const format = (extra: SocketExtra, id: string, errors: readonly GraphQLError[]) => {
    const requestId = requestIdOf(extra, id);
    return errors.map((e) => formatGraphQLError(e.toJSON(), e, { requestId, logger }));
  };

  const served = serveGraphQLWebSocket(
    {
      schema,
      subscribe: (args) => subscribeWs(args as WsOperation, shared),
      onSubscribe(ctx, id, payload) {
        const extra = ctx.extra as SocketExtra;
        const tooLarge = checkQuerySize(payload.query, limits.maxQueryBytes);
        if (tooLarge) return [tooLarge];
        const cached = documents.get(payload.query);
        if (cached.errors) return [...cached.errors];
        // graphql-ws keeps the message for the life of the operation: let it hold the cache's copy
        // of the text rather than one of its own per subscriber.
        (payload as { query: string }).query = cached.query;
        const tooComplex = complexity(cached.document, payload.variables, payload.operationName);
        if (tooComplex) return [tooComplex];
        const context = opts.contextFactory({ requestId: requestIdOf(extra, id), transport: 'ws' });
        return new WsOperation(schema, cached.document, payload.variables, payload.operationName, context, extra.socket, id);
      },
      onNext(ctx, id, _payload, _args, result) {
        if (!result.errors?.length) return undefined;
        return { ...result, errors: format(ctx.extra as SocketExtra, id, result.errors) };
      },
      onError(ctx, id, _payload, errors) {
        return format(ctx.extra as SocketExtra, id, errors);
      },
    },
    wss,
    { logger, keepAliveMs: opts.keepAliveMs, connectionId: (request) => requestIdFrom(request.headers['x-request-id']) },
  );

  let disposing: Promise<void> | null = null;
  return {
    wss,
    dispose() {
      disposing ??= (async () => {
        const grace = setTimeout(() => {
          for (const client of wss.clients) client.terminate();
        }, CLOSE_GRACE_MS);
        grace.unref();
        try {
          await served.dispose();
        } finally {
          clearTimeout(grace);
        }
      })();
      return disposing;
    },
  };
}
