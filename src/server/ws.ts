import type { Server as HttpServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { execute, getOperationAST, GraphQLError, Kind, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import { WebSocketServer } from 'ws';
import type { AuthResult } from '../auth/auth-result';
import type { Principal } from '../auth/roles';
import { makeComplexityCheck } from '../graphql/complexity-cache';
import type { ContextFactory } from '../graphql/context';
import { requestIdFrom } from '../graphql/context';
import { DocumentCache } from '../graphql/document-cache';
import { formatGraphQLError } from '../graphql/errors';
import { checkQuerySize, type QueryLimits } from '../graphql/limits';
import { makeSharedExecution } from '../graphql/shared-execution';
import type { Logger } from '../logger';
import { secondsSince, type GraphQLMetrics, type WsMetrics } from '../metrics/metrics';
import { runSubscription, WsOperation, type ResultFormatter } from './ws-operation';
import type { OperationRunner, WsConnection } from './ws-connection';
import { serveGraphQLTransportWs } from './ws-protocol';

/** Who may use a socket, and what each operation on it may do. */
export interface WebSocketAuth {
  /** At `connection_init`, from its `connectionParams` (src/auth/authenticator.ts). A refusal closes the socket with 4403. */
  connect(params: unknown): Promise<AuthResult>;
  /** Per operation, before it runs: FORBIDDEN for a role too low (src/graphql/authorization.ts), else null. */
  authorize(principal: Principal, document: DocumentNode, operationName: string | null | undefined): GraphQLError | null;
}

export interface GraphQLWebSocketOptions {
  httpServer: HttpServer;
  schema: GraphQLSchema;
  contextFactory: ContextFactory;
  auth: WebSocketAuth;
  limits: QueryLimits;
  logger: Logger;
  /** Ping interval, and how long a pong may take before the socket is cut. Default 12 s. */
  keepAliveMs?: number;
  /** How long a client has to send `connection_init` before it is closed with 4408. Default 3 s. */
  initTimeoutMs?: number;
  /** Browser origins allowed besides the gateway's own (`*`: any); see {@link originAllowed}. Default none. */
  allowedOrigins?: readonly string[];
  /** Largest frame a client may send: ws closes the socket with 1009 on a bigger one's header, before buffering it. Default 1 MiB. */
  maxPayloadBytes?: number;
  /** Connections, subscriptions, deliveries, errors and query durations are observed here (src/metrics); none: not observed. */
  metrics?: { ws: WsMetrics; graphql: GraphQLMetrics };
}

/**
 * Whether a WebSocket upgrade may proceed: no Origin (not a browser), the gateway's own origin
 * (same host as the request), or one of `allowed` (`*` for any).
 */
export function originAllowed(origin: string | undefined, host: string | undefined, allowed: readonly string[]): boolean {
  if (!origin) return true;
  if (allowed.includes('*') || allowed.includes(origin.replace(/\/+$/, ''))) return true;
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** After `dispose()` asks clients to go (1001), how long before the stragglers are cut. */
const CLOSE_GRACE_MS = 2000;

export interface GraphQLWebSocket {
  wss: WebSocketServer;
  /** Closes every socket with 1001 "Going away" and stops accepting. Idempotent. */
  dispose(): Promise<void>;
}

/**
 * GraphQL over WebSocket (the graphql-transport-ws protocol of graphql-ws clients,
 * src/server/ws-protocol.ts) on the HTTP server's port and path. A socket is authenticated once,
 * at `connection_init` (its `connectionParams`); each operation's role is checked before it runs
 * (FORBIDDEN as an `error` message; the socket stays). Every operation goes through the
 * same limits as HTTP (size before parsing, validation + depth, complexity with its variables;
 * parsing, validation and complexity remembered per query text), gets its own context (request id
 * `<x-request-id of the upgrade, or a uuid per connection>.<op id>`), and its errors are mapped
 * exactly like Apollo's (src/graphql/errors.ts). A subscription event is executed once per distinct
 * operation and its `next` message serialized once (src/server/ws-operation.ts); queries and
 * mutations get one `next`, then `complete`.
 */
export function attachGraphQLWebSocket(opts: GraphQLWebSocketOptions): GraphQLWebSocket {
  const { schema, limits, logger } = opts;
  const allowed = opts.allowedOrigins ?? [];
  const wss = new WebSocketServer({
    server: opts.httpServer,
    path: '/graphql',
    maxPayload: opts.maxPayloadBytes ?? 1 << 20,
    // A page of another site must not drive the API with the visitor's network position (the
    // browser sends its Origin; HTTP is covered by CORS, which the gateway does not open).
    verifyClient: ({ origin, req }, done) => {
      const ok = originAllowed(origin, req.headers.host, allowed);
      if (!ok) logger.warn({ origin }, 'WebSocket refused: its Origin is not allowed (CORS_ORIGINS)');
      done(ok, 403, 'Origin not allowed');
    },
  });
  const documents = new DocumentCache(schema, limits);
  const complexity = makeComplexityCheck(schema, limits);
  const shared = makeSharedExecution();
  const countError = opts.metrics?.graphql.error;
  const formatErrors = (requestId: string, errors: readonly GraphQLError[]) =>
    errors.map((e) => formatGraphQLError(e.toJSON(), e, { requestId, logger, hideSuggestions: !limits.introspection, countError }));
  const format: ResultFormatter = (op, result) =>
    result.errors?.length ? { ...result, errors: formatErrors(op.requestId, result.errors) } : result;

  /** What a `subscribe` message comes to: the errors to refuse it with, or the operation to run. */
  const prepare = (conn: WsConnection, id: string, payload: SubscribePayload) => {
    const requestId = `${conn.id}.${id}`;
    const tooLarge = checkQuerySize(payload.query, limits.maxQueryBytes);
    if (tooLarge) return { requestId, errors: [tooLarge] };
    const cached = documents.get(payload.query);
    if (cached.errors) return { requestId, errors: cached.errors };
    // The message lives as long as the operation: let it hold the cache's copy of the text rather
    // than one of its own per subscriber.
    (payload as { query: string }).query = cached.query;
    const tooComplex = complexity(cached.document, payload.variables, payload.operationName);
    if (tooComplex) return { requestId, errors: [tooComplex] };
    const operation = getOperationAST(cached.document, payload.operationName);
    if (!operation) return { requestId, errors: [new GraphQLError('Unable to identify operation')] };
    const principal = conn.principal!; // set before any `subscribe` is let through
    const refused = opts.auth.authorize(principal, cached.document, payload.operationName);
    if (refused) return { requestId, errors: [refused] };
    const context = opts.contextFactory({ requestId, transport: 'ws', principal });
    const [first] = operation.selectionSet.selections;
    const rootField = first?.kind === Kind.FIELD ? first.name.value : undefined;
    const op = new WsOperation(
      schema,
      cached.document,
      payload.variables,
      payload.operationName,
      context,
      id,
      requestId,
      principal.role,
      rootField,
    );
    return { op, type: operation.operation };
  };
  const executeOnce = async (conn: WsConnection, op: WsOperation, type: string) => {
    const started = performance.now();
    await conn.next(op.id, format(op, (await execute(op)) as ExecutionResult));
    opts.metrics?.graphql.request('ws', type, secondsSince(started));
    return conn.complete(op.id);
  };
  // Not an async function: an open subscription keeps no frame of it (nor the message it came from).
  const runner: OperationRunner = {
    async connect(conn, params) {
      const result = await opts.auth.connect(params);
      if (!result.ok) {
        const log = { component: 'auth', connection: conn.id, code: result.code, reason: result.message };
        if (result.code === 'UNAVAILABLE') logger.warn(log, 'WebSocket refused: credentials could not be checked');
        else logger.info(log, 'WebSocket refused');
      }
      return result;
    },
    run(conn, id, payload) {
      const prepared = prepare(conn, id, payload);
      if (!prepared.op) return conn.error(id, formatErrors(prepared.requestId, prepared.errors));
      return prepared.type === 'subscription'
        ? runSubscription(conn, prepared.op, shared, format, opts.metrics?.ws)
        : executeOnce(conn, prepared.op, prepared.type);
    },
  };
  const served = serveGraphQLTransportWs(wss, runner, {
    logger,
    keepAliveMs: opts.keepAliveMs,
    initTimeoutMs: opts.initTimeoutMs,
    connectionId: (request) => requestIdFrom(request.headers['x-request-id']),
    metrics: opts.metrics?.ws,
  });

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
