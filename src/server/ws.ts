import type { Server as HttpServer } from 'node:http';
import type { ExecutionArgs, ExecutionResult, GraphQLError, GraphQLSchema } from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { makeComplexityCheck } from '../graphql/complexity-cache';
import type { ContextFactory } from '../graphql/context';
import { requestIdFrom } from '../graphql/context';
import { DocumentCache } from '../graphql/document-cache';
import { formatGraphQLError } from '../graphql/errors';
import { checkQuerySize, type QueryLimits } from '../graphql/limits';
import { makeSharedSubscribe } from '../graphql/shared-execution';
import type { Logger } from '../logger';
import { serveGraphQLWebSocket, type SocketExtra } from './ws-adapter';
import { sendingNextDirectly } from './ws-next';

export interface GraphQLWebSocketOptions {
  httpServer: HttpServer;
  schema: GraphQLSchema;
  contextFactory: ContextFactory;
  limits: QueryLimits;
  logger: Logger;
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
 * context (request id `<x-request-id of the upgrade>.<op id>` or a uuid), and its errors are mapped
 * exactly like Apollo's (src/graphql/errors.ts). A subscription event is executed once per distinct
 * operation and its `next` message serialized once (src/server/ws-next.ts).
 */
export function attachGraphQLWebSocket(opts: GraphQLWebSocketOptions): GraphQLWebSocket {
  const { schema, limits, logger } = opts;
  const wss = new WebSocketServer({ server: opts.httpServer, path: '/graphql' });
  const documents = new DocumentCache(schema, limits);
  const complexity = makeComplexityCheck(schema, limits);
  const shared = makeSharedSubscribe();
  // The subscribe message's payload object is handed to every later hook of that operation.
  const requestIds = new WeakMap<SubscribePayload, string>();
  /** Where each operation's `next` messages go, for the direct path. */
  const outlets = new WeakMap<ExecutionArgs, { socket: WebSocket; id: string }>();
  const format = (payload: SubscribePayload, errors: readonly GraphQLError[]) => {
    const requestId = requestIds.get(payload) ?? 'unknown';
    return errors.map((e) => formatGraphQLError(e.toJSON(), e, { requestId, logger }));
  };

  const served = serveGraphQLWebSocket(
    {
      schema,
      async subscribe(args) {
        const results = await shared.subscribe(args);
        const outlet = outlets.get(args);
        return outlet && Symbol.asyncIterator in results
          ? sendingNextDirectly(results as AsyncIterableIterator<ExecutionResult>, outlet.socket, outlet.id)
          : results;
      },
      onSubscribe(ctx, id, payload) {
        const header = (ctx.extra as SocketExtra).requestIdHeader;
        const requestId = header ? `${requestIdFrom(header)}.${id}` : requestIdFrom(undefined);
        requestIds.set(payload, requestId);
        const tooLarge = checkQuerySize(payload.query, limits.maxQueryBytes);
        if (tooLarge) return [tooLarge];
        const cached = documents.get(payload.query);
        if (cached.errors) return [...cached.errors];
        // graphql-ws keeps the message for the life of the operation: let it hold the cache's copy
        // of the text rather than one of its own per subscriber.
        (payload as { query: string }).query = cached.query;
        const tooComplex = complexity(cached.document, payload.variables, payload.operationName);
        if (tooComplex) return [tooComplex];
        const args: ExecutionArgs = {
          schema,
          document: cached.document,
          variableValues: payload.variables,
          operationName: payload.operationName,
          contextValue: opts.contextFactory({ requestId, transport: 'ws' }),
        };
        shared.register(args);
        outlets.set(args, { socket: (ctx.extra as SocketExtra).socket, id });
        return args;
      },
      onNext(_ctx, _id, payload, _args, result) {
        if (!result.errors?.length) return undefined;
        return { ...result, errors: format(payload, result.errors) };
      },
      onError(_ctx, _id, payload, errors) {
        return format(payload, errors);
      },
    },
    wss,
    { logger },
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
