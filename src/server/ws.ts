import type { Server as HttpServer } from 'node:http';
import { GraphQLError, parse, type DocumentNode, type GraphQLSchema } from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { ContextFactory } from '../graphql/context';
import { requestIdFrom } from '../graphql/context';
import { clientError, formatGraphQLError } from '../graphql/errors';
import { makeSharedSubscribe } from '../graphql/shared-execution';
import { checkQuerySize, validateOperation, type QueryLimits } from '../graphql/limits';
import type { Logger } from '../logger';

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
 * its variables), gets its own context (request id `<x-request-id of the upgrade>.<op id>` or a
 * uuid), and its errors are mapped exactly like Apollo's (src/graphql/errors.ts).
 */
export function attachGraphQLWebSocket(opts: GraphQLWebSocketOptions): GraphQLWebSocket {
  const { schema, limits, logger } = opts;
  const wss = new WebSocketServer({ server: opts.httpServer, path: '/graphql' });
  // The subscribe message's payload object is handed to every later hook of that operation.
  const requestIds = new WeakMap<SubscribePayload, string>();
  const format = (payload: SubscribePayload, errors: readonly GraphQLError[]) => {
    const requestId = requestIds.get(payload) ?? 'unknown';
    return errors.map((e) => formatGraphQLError(e.toJSON(), e, { requestId, logger }));
  };

  const shared = makeSharedSubscribe();
  const server = useServer(
    {
      schema,
      subscribe: shared.subscribe,
      onSubscribe(ctx, id, payload) {
        const header = ctx.extra.request.headers['x-request-id'];
        const requestId = header ? `${requestIdFrom(header)}.${id}` : requestIdFrom(undefined);
        requestIds.set(payload, requestId);
        const tooLarge = checkQuerySize(payload.query, limits.maxQueryBytes);
        if (tooLarge) return [tooLarge];
        let document: DocumentNode;
        try {
          document = parse(payload.query);
        } catch (err) {
          return [clientError((err as Error).message, 'GRAPHQL_PARSE_FAILED')];
        }
        const errors = validateOperation(schema, document, limits, payload.variables, payload.operationName);
        if (errors.length) return errors;
        const args = {
          schema,
          document,
          variableValues: payload.variables,
          operationName: payload.operationName,
          contextValue: opts.contextFactory({ requestId, transport: 'ws' }),
        };
        shared.register(args, payload.query, payload.variables, payload.operationName);
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
          await server.dispose();
        } finally {
          clearTimeout(grace);
        }
      })();
      return disposing;
    },
  };
}
