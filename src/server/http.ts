import type { Server as HttpServer } from 'node:http';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginSchemaReportingDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { GraphQLSchema } from 'graphql';
import type { Authenticator } from '../auth/authenticator';
import type { Principal } from '../auth/roles';
import { authorizationPlugin } from '../graphql/authorization';
import type { ContextFactory, GraphQLContext } from '../graphql/context';
import { requestIdFrom } from '../graphql/context';
import { makeComplexityCheck } from '../graphql/complexity-cache';
import { apolloFormatError, errorRequestIdsPlugin } from '../graphql/errors';
import { limitRules, limitsPlugin, querySizeMiddleware, type QueryLimits } from '../graphql/limits';
import type { Logger } from '../logger';
import type { GraphQLMetrics } from '../metrics/metrics';
import { metricsPlugin } from '../graphql/metrics-plugin';
import { apolloHandler } from './apollo-handler';
import { authenticateRequests } from './authenticate';
import { dashboardRouter } from './dashboard';
import { graphiqlRouter } from './graphiql';

export type Readiness = () => Promise<{ ok: boolean; checks: Record<string, string> }>;

export interface HttpAppOptions {
  httpServer: HttpServer;
  schema: GraphQLSchema;
  contextFactory: ContextFactory;
  /** Who is calling: every /graphql request is authenticated before its body is read. */
  authenticator: Authenticator;
  limits: QueryLimits;
  logger: Logger;
  readiness: Readiness;
  /** Stops graphql-ws; run by Apollo when it drains (in parallel with draining HTTP). */
  disposeWebSocket: () => Promise<void>;
  /** True once stopping began: /readyz answers 503 so load balancers stop sending traffic. */
  isStopping: () => boolean;
  /**
   * `GET /metrics` (`scrape`) and what GraphQL over HTTP observes; none: no /metrics. Unless
   * `public`, a scrape is authenticated like /graphql (any role: a viewer credential is enough;
   * every caller passes when no credentials are configured).
   */
  metrics?: { graphql: GraphQLMetrics; scrape: RequestHandler; public: boolean };
}

/** Gives each request an id (the caller's x-request-id when sane, else a uuid), echoed in the response. */
const requestIds: RequestHandler = (req, res, next) => {
  const requestId = requestIdFrom(req.headers['x-request-id']);
  res.locals.requestId = requestId;
  res.setHeader('x-request-id', requestId);
  next();
};

/**
 * The Express app: `/graphql` (Apollo, POST and GET; authenticated, then every operation's role
 * checked before it runs), `/graphiql`, `/healthz`, `/readyz` and the dashboard at `/` (these four
 * open to anyone: the dashboard's page holds no data, it signs in to `/graphql` like any client), and
 * `/metrics` when `metrics` is given (authenticated like /graphql unless public).
 * Returns the started Apollo server too (the caller stops it).
 */
export async function createHttpApp(opts: HttpAppOptions): Promise<{ app: Express; apollo: ApolloServer<GraphQLContext> }> {
  const { logger, limits } = opts;
  const disposeWs: ApolloServerPlugin = {
    async serverWillStart() {
      return { drainServer: () => opts.disposeWebSocket() };
    },
  };
  const apollo = new ApolloServer<GraphQLContext>({
    schema: opts.schema,
    // Introspection is refused, when GRAPHQL_INTROSPECTION is off, by the limits' own rule
    // (limitRules), on HTTP and WebSocket alike and with a message that names the setting; Apollo's
    // rule would add a second error naming Apollo's option.
    introspection: true,
    csrfPrevention: true,
    includeStacktraceInErrorResponses: false,
    // The process entry (src/main.ts) owns SIGINT/SIGTERM: Apollo's own handler would stop the
    // server and re-send the signal, turning one Ctrl-C into a forced exit.
    stopOnTerminationSignals: false,
    validationRules: limitRules(limits),
    formatError: apolloFormatError(logger, { hideSuggestions: !limits.introspection, countError: opts.metrics?.graphql.error }),
    logger: logger.child({ component: 'apollo' }),
    plugins: [
      disposeWs,
      ApolloServerPluginDrainHttpServer({ httpServer: opts.httpServer, stopGracePeriodMillis: 5000 }),
      ApolloServerPluginLandingPageDisabled(), // GraphiQL is served at /graphiql, from this server only
      // Installed by default and unused here: cache-control wraps every field resolver of every
      // request (no response is cached), the rest would report to Apollo's cloud if a key were set.
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginSchemaReportingDisabled(),
      authorizationPlugin(opts.schema),
      limitsPlugin(makeComplexityCheck(opts.schema, limits)),
      errorRequestIdsPlugin(),
      ...(opts.metrics ? [metricsPlugin(opts.metrics.graphql)] : []),
    ],
  });
  await apollo.start();

  const app = express();
  app.disable('x-powered-by');
  app.use(requestIds);
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    if (opts.isStopping()) return void res.status(503).json({ status: 'stopping', checks: {} });
    try {
      const { ok, checks } = await opts.readiness();
      res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', checks });
    } catch (err) {
      logger.warn({ err, component: 'readyz' }, 'readiness check failed');
      res.status(503).json({ status: 'unavailable', checks: { readiness: (err as Error).message } });
    }
  });
  if (opts.metrics) {
    const { scrape } = opts.metrics;
    app.get('/metrics', ...(opts.metrics.public ? [scrape] : [authenticateRequests(opts.authenticator, logger), scrape]));
  }
  app.use('/graphiql', graphiqlRouter());
  // A browser opening /graphql gets the IDE rather than Apollo's "GET query missing".
  app.get('/graphql', (req, res, next) => {
    if (req.query.query === undefined && req.accepts(['json', 'html']) === 'html') return res.redirect(302, '/graphiql');
    next();
  });
  app.use(
    '/graphql',
    authenticateRequests(opts.authenticator, logger),
    // A query is further limited to `limits.maxQueryBytes`; variables make up the rest.
    express.json({ limit: '1mb' }),
    querySizeMiddleware(limits),
    apolloHandler(apollo, async (_req, res) =>
      opts.contextFactory({ requestId: res.locals.requestId as string, transport: 'http', principal: res.locals.principal as Principal }),
    ),
  );
  // Last: it owns only `/`, `/index.html` and the files of its bundle; anything else falls through.
  app.use(dashboardRouter());
  const onError: ErrorRequestHandler = (err, _req, res, _next) => {
    const status = typeof err?.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : 500;
    const requestId = res.locals.requestId as string;
    if (status === 500) logger.error({ err, requestId, component: 'http' }, 'unhandled HTTP error');
    const message = status === 500 ? `Internal server error (request ${requestId})` : String(err.message ?? 'Bad request');
    if (res.headersSent) return;
    res.status(status).json({ errors: [{ message, extensions: { code: status === 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST' } }] });
  };
  app.use(onError);
  return { app, apollo };
}
