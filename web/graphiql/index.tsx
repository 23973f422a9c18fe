/**
 * jobwire's self-hosted GraphiQL. Bundled by scripts/build-graphiql.js into dist/graphiql/ and
 * served at /graphiql by src/server/graphiql.ts. Nothing here may load from a CDN: the page has
 * to work on an air-gapped network.
 *
 * Transport: queries and mutations go over HTTP POST to /graphql; subscriptions share one
 * graphql-ws WebSocket on the same host and path (ws: or wss: following the page's scheme).
 */
import './monaco-workers'; // first: Monaco reads globalThis.MonacoEnvironment when it loads
import 'graphiql/style.css';
import './jobwire.css';

import { createGraphiQLFetcher, type Fetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import { createClient } from 'graphql-ws';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';

import { DEFAULT_QUERY } from './default-query';

/** The API lives at a fixed absolute path, independent of where GraphiQL itself is mounted. */
const GRAPHQL_PATH = '/graphql';

const httpUrl = new URL(GRAPHQL_PATH, window.location.href).href;
const wsUrl = `${window.location.protocol === 'https:' ? 'wss:' : 'ws:'}//${window.location.host}${GRAPHQL_PATH}`;

/**
 * The subscription socket authenticates once, at `connection_init`, with graphql-ws
 * `connectionParams`. GraphiQL's headers pane is per request, so the socket is made again whenever
 * the `Authorization` header typed there changes: subscriptions then carry the same credentials as
 * queries (when the gateway requires them).
 */
const makeWsClient = (authorization: string | undefined) =>
  createClient({
    url: wsUrl,
    lazy: true, // only connect once a subscription is actually run
    retryAttempts: 5,
    connectionParams: authorization ? { authorization } : undefined,
  });

const headerValue = (headers: Record<string, unknown> | undefined, name: string): string | undefined => {
  const key = Object.keys(headers ?? {}).find((k) => k.toLowerCase() === name);
  const value = key ? headers![key] : undefined;
  return typeof value === 'string' && value.trim() ? value.trim() : undefined;
};

let socketAuthorization: string | undefined;
let wsClient = makeWsClient(undefined);
let inner = createGraphiQLFetcher({ url: httpUrl, wsClient });

const fetcher: Fetcher = (params, options) => {
  const authorization = headerValue(options?.headers, 'authorization');
  if (authorization !== socketAuthorization) {
    void wsClient.dispose();
    socketAuthorization = authorization;
    wsClient = makeWsClient(authorization);
    inner = createGraphiQLFetcher({ url: httpUrl, wsClient });
  }
  return inner(params, options);
};

const container = document.getElementById('graphiql');
if (!container) throw new Error('jobwire GraphiQL: #graphiql element missing from index.html');

createRoot(container).render(
  <StrictMode>
    <GraphiQL fetcher={fetcher} defaultQuery={DEFAULT_QUERY} defaultEditorToolsVisibility="variables">
      <GraphiQL.Logo>jobwire</GraphiQL.Logo>
    </GraphiQL>
  </StrictMode>,
);
