import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type DocumentNode, type GraphQLFormattedError } from 'graphql';
import { createClient, type Client } from 'graphql-ws';

/** A GraphQL error as jobwire sends it: `extensions.code` (BAD_USER_INPUT, NOT_FOUND, …) and, for bad input, `field`. */
export type JobwireGraphQLError = GraphQLFormattedError & { extensions?: { code?: string; field?: string; [k: string]: unknown } };

/** Thrown by {@link JobwireClient.request} and by subscriptions when the gateway answers with errors (or not at all). */
export class JobwireError extends Error {
  /** `extensions.code` of the first error (`UNAUTHENTICATED`, `BAD_USER_INPUT`, …); `NETWORK` when no answer came. */
  readonly code: string;
  /** For `BAD_USER_INPUT`: the input field the gateway names (e.g. `input.source.params.path`). */
  readonly field: string | undefined;

  constructor(
    readonly errors: readonly JobwireGraphQLError[],
    /** HTTP status of the answer; 0 for a WebSocket or network failure. */
    readonly status = 0,
  ) {
    super(errors.map((e) => e.message).join('; ') || 'jobwire request failed');
    this.name = 'JobwireError';
    this.code = errors[0]?.extensions?.code ?? 'INTERNAL_SERVER_ERROR';
    this.field = errors[0]?.extensions?.field;
  }
}

export interface JobwireClientOptions {
  /** The GraphQL endpoint, e.g. `http://127.0.0.1:4000/graphql` (a bare origin gets `/graphql`). Subscriptions use the same URL over `ws(s)://`. */
  url: string;
  /** A JWT or an API token, sent as `Authorization: Bearer` and in the WebSocket's `connectionParams`. Omit it when auth is off (the embedded default). */
  token?: string;
  /** WebSocket implementation where there is no global one (Node 20: `require('ws')`). Default: `globalThis.WebSocket`. */
  webSocketImpl?: unknown;
  /** `fetch` to use. Default: `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Called when the subscription socket connects again after losing its connection (e.g. to show "reconnected"). */
  onReconnected?: () => void;
}

type Doc<TData, TVars> = TypedDocumentNode<TData, TVars> | DocumentNode | string;

/** A typed jobwire client: queries and mutations over HTTP, subscriptions over one lazily opened graphql-ws socket. */
export interface JobwireClient {
  /** Runs a query or mutation; resolves to `data`, rejects with a {@link JobwireError} when the gateway reports errors. */
  request<TData, TVars>(document: Doc<TData, TVars>, variables?: TVars): Promise<TData>;
  /**
   * Starts a subscription. Iterate it (`for await`); `return()` (or `break`) ends it. Errors of the
   * operation reject the iteration with a {@link JobwireError}.
   */
  subscribe<TData, TVars>(document: Doc<TData, TVars>, variables?: TVars): AsyncIterableIterator<TData>;
  /** Closes the subscription socket (ends every subscription). */
  close(): Promise<void>;
}

const text = (d: Doc<unknown, unknown>) => (typeof d === 'string' ? d : print(d));

/** The HTTP endpoint of `url` (`/graphql` added to a bare origin). */
export function graphqlHttpUrl(url: string): string {
  const u = new URL(url);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/graphql';
  return u.toString();
}

/** The WebSocket endpoint for `url`: same host and path, `ws:` for `http:` and `wss:` for `https:`. */
export function graphqlWsUrl(url: string): string {
  const u = new URL(graphqlHttpUrl(url));
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

const asError = (e: unknown): JobwireError => {
  if (e instanceof JobwireError) return e;
  if (Array.isArray(e)) return new JobwireError(e as JobwireGraphQLError[]);
  // graphql-ws rejects with the CloseEvent when the socket closes (4403 Forbidden, …).
  const close = e as { code?: number; reason?: string } | null;
  if (close && typeof close.code === 'number') {
    const code = close.code === 4403 || close.code === 4401 ? 'UNAUTHENTICATED' : 'NETWORK';
    return new JobwireError([{ message: close.reason || `connection closed (${close.code})`, extensions: { code } }]);
  }
  return new JobwireError([{ message: e instanceof Error ? e.message : String(e), extensions: { code: 'NETWORK' } }]);
};

/**
 * Makes a typed client for one gateway. Pass the documents exported by `jobwire/client` (or your
 * own, generated with GraphQL Code Generator) and `data` and `variables` are typed:
 *
 * ```ts
 * const jw = createJobwireClient({ url: 'http://127.0.0.1:4000/graphql', webSocketImpl: WebSocket });
 * const { startJob } = await jw.request(StartJobDocument, { jobId });
 * for await (const { runUpdated } of jw.subscribe(RunUpdatedDocument, { runId: startJob.id })) { … }
 * ```
 */
export function createJobwireClient(options: JobwireClientOptions): JobwireClient {
  const httpUrl = graphqlHttpUrl(options.url);
  const doFetch = options.fetch ?? globalThis.fetch;
  const auth: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};
  let ws: Client | null = null;
  let connectedOnce = false;

  const socket = () =>
    (ws ??= createClient({
      url: graphqlWsUrl(options.url),
      webSocketImpl: options.webSocketImpl ?? (globalThis as { WebSocket?: unknown }).WebSocket,
      connectionParams: options.token ? auth : undefined,
      lazy: true,
      retryAttempts: Infinity,
      // A refused credential will not get better by retrying.
      shouldRetry: (e) =>
        !(e && typeof (e as { code?: number }).code === 'number' && [4403, 4401, 4400].includes((e as { code: number }).code)),
      on: {
        connected: () => {
          if (connectedOnce) options.onReconnected?.();
          connectedOnce = true;
        },
      },
    }));

  return {
    async request(document, variables) {
      let res: Response;
      try {
        res = await doFetch(httpUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json', ...auth },
          body: JSON.stringify({ query: text(document), variables }),
        });
      } catch (e) {
        throw asError(e);
      }
      const body = (await res.json().catch(() => null)) as { data?: unknown; errors?: JobwireGraphQLError[] } | null;
      if (!body)
        throw new JobwireError([{ message: `HTTP ${res.status} without a GraphQL answer`, extensions: { code: 'NETWORK' } }], res.status);
      if (body.errors?.length) throw new JobwireError(body.errors, res.status);
      return body.data as never;
    },

    subscribe<TData, TVars>(document: Doc<TData, TVars>, variables?: TVars): AsyncIterableIterator<TData> {
      const it = socket().iterate<TData>({ query: text(document), variables: variables as Record<string, unknown> | undefined });
      const unwrap = (r: IteratorResult<{ data?: TData | null; errors?: readonly JobwireGraphQLError[] }>): IteratorResult<TData> => {
        if (r.done) return { done: true, value: undefined };
        if (r.value.errors?.length) throw new JobwireError(r.value.errors);
        return { done: false, value: r.value.data as TData };
      };
      const wrapped: AsyncIterableIterator<TData> = {
        next: () => it.next().then(unwrap, (e) => Promise.reject(asError(e))),
        return: async () => {
          await it.return?.();
          return { done: true, value: undefined };
        },
        [Symbol.asyncIterator]() {
          return wrapped;
        },
      };
      return wrapped;
    },

    async close() {
      const c = ws;
      ws = null;
      await c?.dispose();
    },
  };
}
