import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type DocumentNode, type FormattedExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { GqlError } from './http';

/** One message of a subscription: a `next` payload, or the `error` message as `{ errors }`. */
export type SubMessage<T> = FormattedExecutionResult<T> & { errors?: GqlError[] };

export interface TestSubscription<T> {
  /** The next message (in order), or throws after `timeoutMs` (default 5000). */
  next(timeoutMs?: number): Promise<SubMessage<T>>;
  /** The first queued or future message matching `predicate`; the others stay queued, in order. */
  waitFor(predicate: (m: SubMessage<T>) => boolean, timeoutMs?: number): Promise<SubMessage<T>>;
  /** Takes every message queued so far. */
  all(): SubMessage<T>[];
  /** Resolves when the server completes the operation (or it errors, or the socket closes). */
  readonly completed: Promise<void>;
  /** Sends `complete` (the client leaves the operation). */
  dispose(): void;
}

export interface TestWsClient {
  client: Client;
  subscribe<T = Record<string, any>, V = Record<string, unknown>>(
    document: TypedDocumentNode<T, V> | DocumentNode | string,
    variables?: V,
  ): TestSubscription<T>;
  /** Kills the TCP connection without a close handshake (a client that vanished). */
  closeAbruptly(): void;
  /** Resolves with the close code once the socket is closed (by either side). */
  closed(): Promise<number>;
  dispose(): Promise<void>;
}

/**
 * A queueing graphql-ws test client (model: enisdenjo/graphql-ws tests/utils/tclient.ts): every
 * message is queued as it arrives, so a test never misses one between two awaits. Connects eagerly
 * (resolves once acknowledged) and never retries.
 */
export async function createWsClient(
  url: string,
  opts: { headers?: Record<string, string>; connectionParams?: Record<string, unknown> } = {},
): Promise<TestWsClient> {
  let socket: WebSocket | null = null;
  let closeCode: number | null = null;
  const closeWaiters: ((code: number) => void)[] = [];
  class TrackedWebSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { headers: opts.headers });
      socket = this; // eslint-disable-line @typescript-eslint/no-this-alias
      this.once('close', (code) => {
        closeCode = code;
        closeWaiters.splice(0).forEach((w) => w(code));
      });
    }
  }
  const client = createClient({
    url,
    webSocketImpl: TrackedWebSocket,
    lazy: false,
    connectionParams: opts.connectionParams,
    retryAttempts: 0,
    keepAlive: 0,
    // A closed socket is something tests cause and observe through `closed()`, not noise for the console.
    onNonLazyError: () => undefined,
  });
  await new Promise<void>((resolve, reject) => {
    const offConnected = client.on('connected', () => {
      offConnected();
      offClosed();
      resolve();
    });
    const offClosed = client.on('closed', (e) => {
      offConnected();
      offClosed();
      reject(new Error(`WebSocket closed before it was acknowledged: ${JSON.stringify(e)}`));
    });
  });

  return {
    client,
    subscribe<T, V>(document: TypedDocumentNode<T, V> | DocumentNode | string, variables?: V): TestSubscription<T> {
      const queue: SubMessage<T>[] = [];
      const waiters = new Set<() => void>();
      let finished = false;
      let resolveCompleted!: () => void;
      const completed = new Promise<void>((r) => (resolveCompleted = r));
      const push = (m: SubMessage<T>) => {
        queue.push(m);
        waiters.forEach((w) => w());
      };
      const finish = () => {
        finished = true;
        resolveCompleted();
        waiters.forEach((w) => w());
      };
      const query = typeof document === 'string' ? document : print(document);
      const unsubscribe = client.subscribe<T>(
        { query, variables: (variables ?? {}) as Record<string, unknown> },
        {
          next: (m) => push(m as SubMessage<T>),
          error: (err) => {
            if (Array.isArray(err)) push({ errors: err as GqlError[] });
            else
              push({
                errors: [
                  {
                    message: `socket closed: ${(err as { code?: number; reason?: string }).code ?? ''} ${(err as { reason?: string }).reason ?? String(err)}`,
                  },
                ],
              });
            finish();
          },
          complete: finish,
        },
      );
      const waitFor = (predicate: (m: SubMessage<T>) => boolean, timeoutMs = 5000) =>
        new Promise<SubMessage<T>>((resolve, reject) => {
          const check = () => {
            const i = queue.findIndex(predicate);
            if (i >= 0) {
              cleanup();
              resolve(queue.splice(i, 1)[0]);
            } else if (finished) {
              cleanup();
              reject(new Error(`subscription ended without the message waited for; queued: ${JSON.stringify(queue).slice(0, 1000)}`));
            }
          };
          const timer = setTimeout(() => {
            cleanup();
            reject(new Error(`no matching message within ${timeoutMs} ms; queued: ${JSON.stringify(queue).slice(0, 1000)}`));
          }, timeoutMs);
          const cleanup = () => {
            clearTimeout(timer);
            waiters.delete(check);
          };
          waiters.add(check);
          check();
        });
      return {
        next: (timeoutMs) => waitFor(() => true, timeoutMs),
        waitFor,
        all: () => queue.splice(0),
        completed,
        dispose: () => unsubscribe(),
      };
    },
    closeAbruptly() {
      socket?.terminate();
    },
    closed: () => (closeCode !== null ? Promise.resolve(closeCode) : new Promise((resolve) => closeWaiters.push(resolve))),
    async dispose() {
      await client.dispose();
    },
  };
}
