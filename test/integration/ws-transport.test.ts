/**
 * The WebSocket transport on its own (src/server/ws.ts over a small schema): what the fast path of
 * `next` messages sends, in which order, errors per client, releasing event sources, keep-alive.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphQLError, GraphQLInt, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import WebSocket from 'ws';
import type { GraphQLContext } from '../../src/graphql/context';
import type { QueryLimits } from '../../src/graphql/limits';
import { makeLogger } from '../../src/logger';
import { attachGraphQLWebSocket, type GraphQLWebSocket, type WebSocketAuth } from '../../src/server/ws';
import { Role } from '../../src/auth/roles';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';
import { createWsClient } from '../helpers/ws-client';

/** `tick` streams the events `emit` sends to every subscriber (the same objects), `upTo(n)` counts 1..n and ends. */
function world() {
  const listeners = new Set<(e: object) => void>();
  let resolved = 0;
  let released = 0;
  const Tick = new GraphQLObjectType({
    name: 'Tick',
    fields: {
      n: { type: GraphQLInt },
      label: {
        type: GraphQLString,
        resolve: (e: { n: number }) => {
          resolved++;
          return `#${e.n}`;
        },
      },
      boom: {
        type: GraphQLString,
        resolve: () => {
          throw new Error('disk on fire');
        },
      },
      refused: {
        type: GraphQLString,
        resolve: () => {
          throw new GraphQLError('not today', { extensions: { code: 'FORBIDDEN' } });
        },
      },
    },
  });
  const source = () => {
    const queue: object[] = [];
    let wake: ((r: IteratorResult<object>) => void) | null = null;
    const push = (e: object) => (wake ? (wake({ value: e, done: false }), (wake = null)) : queue.push(e));
    listeners.add(push);
    return {
      next: () =>
        queue.length ? Promise.resolve({ value: queue.shift()!, done: false }) : new Promise<IteratorResult<object>>((r) => (wake = r)),
      return: () => {
        listeners.delete(push);
        released++;
        wake?.({ value: undefined, done: true });
        return Promise.resolve({ value: undefined, done: true as const });
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  };
  async function* upTo(_: unknown, { n }: { n: number }) {
    for (let i = 1; i <= n; i++) yield { n: i };
  }
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLInt } } }),
    subscription: new GraphQLObjectType({
      name: 'Subscription',
      fields: {
        tick: { type: Tick, subscribe: source, resolve: (e: object) => e },
        upTo: { type: Tick, args: { n: { type: new GraphQLNonNull(GraphQLInt) } }, subscribe: upTo, resolve: (e: object) => e },
      },
    }),
  });
  return {
    schema,
    emit: (e: object) => listeners.forEach((l) => l(e)),
    listening: () => listeners.size,
    resolved: () => resolved,
    released: () => released,
  };
}

/** A socket that has only connected: every message kept as it arrived, and how it was closed. */
async function bareSocket(url: string, protocols: string[] = ['graphql-transport-ws']) {
  const ws = new WebSocket(url, protocols);
  const messages: Record<string, unknown>[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data))));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  return { ws, messages, closed, send: (m: object) => ws.send(JSON.stringify(m)) };
}

/** A raw graphql-transport-ws client that keeps every message text as it arrived. */
async function rawClient(url: string, opts: WebSocket.ClientOptions = {}) {
  const ws = new WebSocket(url, 'graphql-transport-ws', opts);
  const texts: string[] = [];
  ws.on('message', (data) => texts.push(String(data)));
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init' })));
    ws.on('message', function acked(data) {
      if (JSON.parse(String(data)).type !== 'connection_ack') return;
      ws.off('message', acked);
      texts.length = 0;
      resolve();
    });
  });
  return { ws, texts, subscribe: (id: string, query: string) => ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query } })) };
}

/** The transport alone: every socket is an admin, every operation allowed (the gateway's own checks are tested in auth.test.ts). */
/** The query limits of every server here. */
const limits: QueryLimits = {
  maxDepth: 10,
  maxComplexity: 1000,
  maxQueryBytes: 10_000,
  maxPageSize: 100,
  maxAliases: 15,
  maxRootMutations: 5,
  introspection: true,
};

const openAuth: WebSocketAuth = {
  connect: async () => ({ ok: true, principal: { subject: 'test', role: Role.ADMIN } }),
  authorize: () => null,
};

describe('WebSocket transport', () => {
  const disposables = new Disposables();
  const logger = makeLogger('silent');
  let w: ReturnType<typeof world>;
  let url: string;
  let server: GraphQLWebSocket;

  beforeEach(async () => {
    w = world();
    const httpServer = http.createServer();
    server = attachGraphQLWebSocket({
      httpServer,
      schema: w.schema,
      contextFactory: () => ({}) as GraphQLContext,
      auth: openAuth,
      limits,
      logger,
      keepAliveMs: 100,
      initTimeoutMs: 300,
      allowedOrigins: ['https://dash.example.com'],
    });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    url = `ws://127.0.0.1:${(httpServer.address() as AddressInfo).port}/graphql`;
    disposables.defer(() => new Promise((resolve) => httpServer.close(resolve)));
    disposables.defer(() => server.dispose());
  });
  afterEach(() => disposables.disposeAll());

  it('sends every subscriber of one operation the same payload, each under its own id', async () => {
    const [a, b] = [await rawClient(url), await rawClient(url)];
    disposables.defer(() => (a.ws.close(), b.ws.close()));
    a.subscribe('first', 'subscription { tick { n label } }');
    b.subscribe('second', 'subscription { tick { n label } }');
    await waitFor(() => w.listening() === 2, 'both subscriptions to listen');
    w.emit({ n: 1 });
    await waitFor(() => a.texts.length && b.texts.length, 'both messages');
    expect(a.texts).toEqual(['{"id":"first","type":"next","payload":{"data":{"tick":{"n":1,"label":"#1"}}}}']);
    expect(b.texts).toEqual(['{"id":"second","type":"next","payload":{"data":{"tick":{"n":1,"label":"#1"}}}}']);
    expect(w.resolved()).toBe(1);
  });

  it('keeps the order of a stream: every next, then complete', async () => {
    const client = await rawClient(url);
    disposables.defer(() => client.ws.close());
    client.subscribe('1', 'subscription { upTo(n: 3) { n } }');
    await waitFor(() => client.texts.length === 4, 'three nexts and the complete');
    expect(client.texts.map((t) => JSON.parse(t))).toEqual([
      { id: '1', type: 'next', payload: { data: { upTo: { n: 1 } } } },
      { id: '1', type: 'next', payload: { data: { upTo: { n: 2 } } } },
      { id: '1', type: 'next', payload: { data: { upTo: { n: 3 } } } },
      { id: '1', type: 'complete' },
    ]);
  });

  it("masks an unexpected error with each client's own request id, and keeps a client error as it is", async () => {
    const a = await createWsClient(url, { headers: { 'x-request-id': 'trace-a' } });
    const b = await createWsClient(url, { headers: { 'x-request-id': 'trace-b' } });
    disposables.defer(() => Promise.all([a.dispose(), b.dispose()]));
    const query = 'subscription { tick { n boom refused } }';
    const [sa, sb] = [a.subscribe(query), b.subscribe(query)];
    await waitFor(() => w.listening() === 2, 'both subscriptions to listen');
    w.emit({ n: 1 });
    const [ma, mb] = [await sa.next(), await sb.next()];
    const codes = (m: typeof ma) => m.errors!.map((e) => e.extensions);
    expect(ma.data).toEqual({ tick: { n: 1, boom: null, refused: null } });
    expect(codes(ma)).toEqual([{ code: 'INTERNAL_SERVER_ERROR', requestId: expect.stringMatching(/^trace-a\./) }, { code: 'FORBIDDEN' }]);
    expect(codes(mb)[0]).toEqual({ code: 'INTERNAL_SERVER_ERROR', requestId: expect.stringMatching(/^trace-b\./) });
    expect(ma.errors![0].message).not.toMatch(/disk on fire/);
  });

  it('releases the event source at once when the client completes, even while it waits for an event', async () => {
    const client = await createWsClient(url);
    disposables.defer(() => client.dispose());
    const sub = client.subscribe('subscription { tick { n } }');
    await waitFor(() => w.listening() === 1, 'the subscription to listen');
    sub.dispose();
    await waitFor(() => w.released() === 1, 'the source to be released');
    expect(w.listening()).toBe(0);
  });

  it('runs several operations on one socket apart: completing one leaves the others, and frees its id', async () => {
    const client = await rawClient(url);
    disposables.defer(() => client.ws.close());
    for (const id of ['a', 'b', 'c']) client.subscribe(id, 'subscription { tick { n } }');
    await waitFor(() => w.listening() === 3, 'three subscriptions to listen');
    client.ws.send(JSON.stringify({ id: 'b', type: 'complete' }));
    await waitFor(() => w.released() === 1, 'b to be released');
    client.subscribe('b', 'subscription { tick { n } }');
    await waitFor(() => w.listening() === 3, 'b to listen again');
    w.emit({ n: 1 });
    await waitFor(() => client.texts.length === 3, 'one message per open operation');
    expect(client.texts.map((t) => JSON.parse(t).id).sort()).toEqual(['a', 'b', 'c']);
  });

  it('closes the socket with 4500 when an operation fails unexpectedly, and logs it in full', async () => {
    const lines: { msg: string; err?: { message: string } }[] = [];
    const httpServer = http.createServer();
    const failing = attachGraphQLWebSocket({
      httpServer,
      schema: w.schema,
      contextFactory: () => {
        throw new Error('context store is gone');
      },
      auth: openAuth,
      limits,
      logger: makeLogger('error', {}, { write: (line: string) => void lines.push(JSON.parse(line)) }),
    });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    disposables.defer(() => new Promise((resolve) => httpServer.close(resolve)));
    disposables.defer(() => failing.dispose());
    const s = await bareSocket(`ws://127.0.0.1:${(httpServer.address() as AddressInfo).port}/graphql`);
    s.send({ type: 'connection_init' });
    s.send({ id: '1', type: 'subscribe', payload: { query: 'subscription { tick { n } }' } });
    expect(await s.closed).toEqual({ code: 4500, reason: 'Internal server error' });
    expect(lines).toEqual([
      expect.objectContaining({
        msg: 'error while handling a WebSocket message',
        err: expect.objectContaining({ message: 'context store is gone' }),
      }),
    ]);
  });

  it('cuts a socket that stops answering pings, and keeps one that answers', async () => {
    const silent = await rawClient(url, { autoPong: false });
    const alive = await rawClient(url);
    disposables.defer(() => alive.ws.close());
    let pings = 0;
    alive.ws.on('ping', () => pings++);
    const code = await new Promise<number>((resolve) => silent.ws.once('close', resolve));
    expect(code).toBe(1006); // terminated, no close frame
    await waitFor(() => pings >= 2, 'the answering socket to be pinged twice');
    expect(alive.ws.readyState).toBe(WebSocket.OPEN);
  });

  describe('protocol (graphql-transport-ws, as graphql-ws serves it)', () => {
    const init = { type: 'connection_init' };
    const subscribe = (id: string, query = 'subscription { tick { n } }') => ({ id, type: 'subscribe', payload: { query } });

    it('acknowledges connection_init and answers a ping with a pong carrying its payload', async () => {
      const s = await bareSocket(url);
      disposables.defer(() => s.ws.close());
      s.send(init);
      s.send({ type: 'ping', payload: { at: 1 } });
      await waitFor(() => s.messages.length === 2, 'the ack and the pong');
      expect(s.messages).toEqual([{ type: 'connection_ack' }, { type: 'pong', payload: { at: 1 } }]);
    });

    it('answers a query with one next, then complete, and refuses an invalid one with an error', async () => {
      const s = await bareSocket(url);
      disposables.defer(() => s.ws.close());
      s.send(init);
      s.send({ id: 'q', type: 'subscribe', payload: { query: '{ ok }' } });
      s.send({ id: 'bad', type: 'subscribe', payload: { query: '{ nope }' } });
      await waitFor(() => s.messages.length === 4, 'every answer');
      expect(s.messages.filter((m) => m.id === 'q')).toEqual([
        { id: 'q', type: 'next', payload: { data: { ok: null } } },
        { id: 'q', type: 'complete' },
      ]);
      expect(s.messages.find((m) => m.id === 'bad')).toEqual({
        id: 'bad',
        type: 'error',
        payload: [
          expect.objectContaining({
            message: 'Cannot query field "nope" on type "Query".',
            extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
          }),
        ],
      });
    });

    it.each([
      ['a subscribe before connection_init', [subscribe('1')], 4401, 'Unauthorized'],
      ['a second connection_init', [init, init], 4429, 'Too many initialisation requests'],
      ['a subscribe whose id is in use', [init, subscribe('1'), subscribe('1')], 4409, 'Subscriber for 1 already exists'],
      ['a message that is not of the protocol', [{ type: 'hello' }], 4400, 'Invalid message received'],
    ])('closes on %s', async (_what, messages, code, reason) => {
      const s = await bareSocket(url);
      for (const m of messages) s.send(m);
      expect(await s.closed).toEqual({ code, reason });
    });

    it("refuses a browser page of another origin at the upgrade (403); the gateway's own, an allowed one and non-browsers connect", async () => {
      const attempt = (origin?: string) =>
        new Promise<number>((resolve) => {
          const ws = new WebSocket(url, 'graphql-transport-ws', origin ? { origin } : {});
          ws.once('open', () => (ws.close(), resolve(101)));
          ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
          ws.once('error', () => undefined);
        });
      expect(await attempt('https://evil.example')).toBe(403);
      expect(await attempt('https://dash.example.com')).toBe(101);
      expect(await attempt(new URL(url.replace(/^ws/, 'http')).origin)).toBe(101);
      expect(await attempt()).toBe(101);
    });

    it('closes a socket whose frame is above the payload limit (1009) before buffering it; a frame under it is answered', async () => {
      const under = await rawClient(url);
      // 512 KiB: under the 1 MiB default. Too big a query, so refused by the query size limit, on a socket that stays.
      under.subscribe('big', `{ ${'a'.repeat(512 * 1024)} }`);
      await waitFor(() => under.texts.some((t) => JSON.parse(t).id === 'big' && JSON.parse(t).type === 'error'), 'the refusal');
      expect(under.ws.readyState).toBe(WebSocket.OPEN);
      const over = await bareSocket(url);
      over.send({ type: 'connection_init', payload: { pad: 'x'.repeat(2 << 20) } });
      expect((await over.closed).code).toBe(1009);
      under.ws.close();
    });

    it('closes a socket that never sends connection_init (4408), and one without the subprotocol (4406)', async () => {
      const silent = await bareSocket(url);
      expect(await silent.closed).toEqual({ code: 4408, reason: 'Connection initialisation timeout' });
      const other = await bareSocket(url, []);
      expect(await other.closed).toEqual({ code: 4406, reason: 'Subprotocol not acceptable' });
    });
  });
});
