import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GraphQLSchema } from 'graphql';
import type { Authenticator } from '../auth/authenticator';
import type { Config } from '../config';
import { authorizeOperation } from '../graphql/authorization';
import type { ContextFactory } from '../graphql/context';
import type { Logger } from '../logger';
import type { GraphQLMetrics, WsMetrics } from '../metrics/metrics';
import { createHttpApp, type HttpAppOptions, type Readiness } from './http';
import { attachGraphQLWebSocket } from './ws';

/** The listen backlog when the config gives none (the kernel caps it at net.core.somaxconn). */
const DEFAULT_BACKLOG = 4096;

export interface StartServerOptions {
  schema: GraphQLSchema;
  contextFactory: ContextFactory;
  /** Who is calling: HTTP requests by their `Authorization` header, WebSockets by their `connectionParams`. */
  authenticator: Authenticator;
  /** `port` (0 = any free port), `host`, the query `limits`, the WebSocket's limits and the listen backlog. */
  config: Pick<Config, 'port' | 'host' | 'limits' | 'wsMaxPayloadBytes'> &
    Partial<Pick<Config, 'corsOrigins' | 'wsConnectionInitTimeoutMs' | 'httpBacklog'>>;
  logger: Logger;
  /** Backs /readyz: 200 when `ok`, else 503; `checks` are shown either way. */
  readiness: Readiness;
  /** `GET /metrics` and what the HTTP and WebSocket servers observe (src/metrics); none: no /metrics, nothing observed. */
  metrics?: NonNullable<HttpAppOptions['metrics']> & { ws: WsMetrics; graphql: GraphQLMetrics };
}

export interface RunningServer {
  /** `http://host:port` (no path): /graphql, /graphiql, /healthz, /readyz and /metrics hang below it. */
  url: string;
  /** The GraphQL endpoint over HTTP, e.g. `http://127.0.0.1:4000/graphql`. */
  graphqlUrl: string;
  /** The same endpoint for graphql-ws, e.g. `ws://127.0.0.1:4000/graphql`. */
  wsUrl: string;
  port: number;
  httpServer: http.Server;
  /**
   * Stops accepting, closes WebSockets with 1001 "Going away", lets in-flight HTTP requests finish
   * (then cuts them after 5 s), and stops Apollo. Idempotent:
   * a second call returns the first one's promise. Every step runs even when one fails; the
   * first failure is rethrown at the end.
   */
  stop(): Promise<void>;
}

/**
 * Starts the HTTP + WebSocket server: GraphQL over HTTP and graphql-ws on the same port and
 * path (`/graphql`, both authenticated, every operation's role checked before it runs), GraphiQL (`/graphiql`), `/healthz`, `/readyz`, `/metrics` (with `metrics`). Rejects when the port is taken.
 */
export async function startServer(opts: StartServerOptions): Promise<RunningServer> {
  const { config, logger } = opts;
  const httpServer = http.createServer();
  let stopping = false;
  const ws = attachGraphQLWebSocket({
    httpServer,
    schema: opts.schema,
    contextFactory: opts.contextFactory,
    auth: {
      connect: (params) => opts.authenticator.fromConnectionParams(params),
      authorize: (principal, document, operationName) => authorizeOperation(opts.schema, principal, document, operationName),
    },
    limits: config.limits,
    maxPayloadBytes: config.wsMaxPayloadBytes,
    allowedOrigins: config.corsOrigins,
    initTimeoutMs: config.wsConnectionInitTimeoutMs,
    logger,
    metrics: opts.metrics,
  });
  const { app, apollo } = await createHttpApp({
    httpServer,
    schema: opts.schema,
    contextFactory: opts.contextFactory,
    authenticator: opts.authenticator,
    limits: config.limits,
    logger,
    readiness: opts.readiness,
    disposeWebSocket: () => ws.dispose(),
    isStopping: () => stopping,
    metrics: opts.metrics,
  });
  httpServer.on('request', app);
  try {
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      // A burst of connections (dashboards reconnecting after a deploy) waits in the kernel's
      // accept queue while the process is busy; node's default of 511 drops the overflow.
      httpServer.listen({ port: config.port, host: config.host, backlog: config.httpBacklog ?? DEFAULT_BACKLOG }, () => {
        httpServer.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await Promise.allSettled([apollo.stop(), ws.dispose()]);
    throw err;
  }
  const { port } = httpServer.address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger.info({ port }, `GraphQL on ${baseUrl}/graphql (HTTP and WebSocket), GraphiQL on ${baseUrl}/graphiql`);

  let stopped: Promise<void> | null = null;
  const stop = () => {
    stopped ??= (async () => {
      stopping = true;
      const results = await Promise.allSettled([
        apollo.stop(), // drains HTTP and disposes graphql-ws (its drain plugins)
        ws.dispose(), // already running through Apollo; here in case Apollo failed before
      ]);
      if (httpServer.listening) await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    })();
    return stopped;
  };

  return { url: baseUrl, graphqlUrl: `${baseUrl}/graphql`, wsUrl: `${baseUrl.replace(/^http/, 'ws')}/graphql`, port, httpServer, stop };
}
