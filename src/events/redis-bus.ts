import { RedisPubSub } from 'graphql-redis-subscriptions';
import Redis from 'ioredis';
import { coerceError } from '../errors';
import { EventBus } from './bus';

/** Options of {@link makeRedisBus}. */
export interface RedisBusOptions {
  /** How long the first connection may take before `makeRedisBus` rejects. Default 5000 ms. */
  connectTimeoutMs?: number;
  /**
   * Told of connection errors while ioredis reconnects by itself: the first of an outage, then at
   * most one a minute per connection, until it is ready again.
   */
  onError?: (err: Error, connection: 'publisher' | 'subscriber') => void;
  /** Told of every resync the bus starts (for the log): why, and since when messages may be lost. */
  onResync?: (reason: string, since: Date) => void;
  /** Told when a publish failed (Redis away): the caller gets the rejection too. */
  onPublishError?: (err: Error) => void;
  /** Told when a subscription could not re-read its state after a reconnect. */
  onResyncError?: (err: Error) => void;
}

/** Channel (under the prefix) on which a replica that could not publish tells every replica to resync. */
export const RESYNC_CHANNEL = 'bus:resync';
/** How far before an outage a resync re-reads: replicas' clocks differ a little. */
export const CLOCK_SLACK_MS = 5000;

/**
 * The envelope's one field: when the message was published (ms since the epoch), added to the
 * payload's JSON object. Subscriptions resolve the fields clients select, so they never see it; a
 * replica that does not know it ignores it.
 */
export const PUBLISHED_AT = '@t';

/** `payload` as JSON with its publish time ({@link PUBLISHED_AT}) added, without copying the object. */
export function stampedJson(payload: unknown, at: number): string {
  const json = JSON.stringify(payload);
  if (json === undefined || json[0] !== '{') return json;
  return json === '{}' ? `{"${PUBLISHED_AT}":${at}}` : `{"${PUBLISHED_AT}":${at},${json.slice(1)}`;
}

/**
 * The Redis bus: publishes on per-entity channels, with two connections of its own (a subscribed
 * connection cannot publish). Rejects when Redis cannot be reached within `connectTimeoutMs`.
 *
 * Through an outage: ioredis reconnects both connections by itself and subscribes the subscriber's
 * channels again. Publishes fail at once while the publisher is not connected (no offline queue:
 * a queue would grow with every event and block the writer behind it); the writer logs them, the
 * change is already committed. Once Redis answers again, every subscription is resynced
 * (`SubscribeOptions.onResync`): when this replica's subscriber reconnected (it may have missed
 * anything), and when any replica's publisher reconnected after dropping publishes (it tells all of
 * them on {@link RESYNC_CHANNEL}), so a subscriber whose own connection held still converges.
 */
export async function makeRedisBus(url: string, prefix: string, opts: RedisBusOptions = {}): Promise<EventBus> {
  const common = { lazyConnect: true, connectTimeout: opts.connectTimeoutMs ?? 5000 };
  // The publishes of one turn of the event loop (a batch's runs, stages, jobs) go out in one write.
  const publisher = new Redis(url, { ...common, enableAutoPipelining: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  // SUBSCRIBE and UNSUBSCRIBE issued while Redis is away wait (a few reconnect attempts) for it.
  const subscriber = new Redis(url, { ...common, maxRetriesPerRequest: 3 });
  // graphql-redis-subscriptions unsubscribes without looking at the result: while Redis is away
  // that promise rejects, and an unhandled rejection ends the process. The channel stays in
  // ioredis's list and is subscribed again on reconnect (its messages then reach no one).
  for (const name of ['unsubscribe', 'punsubscribe'] as const) {
    const original = subscriber[name].bind(subscriber) as (...args: unknown[]) => Promise<unknown>;
    (subscriber as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      const p = original(...args);
      p.catch(() => undefined);
      return p;
    };
  }
  // ioredis reconnects by itself; without a listener each failed attempt prints a stack to stderr.
  // Report the first error of an outage, then at most one a minute, until a connection is ready.
  for (const [name, client] of [
    ['publisher', publisher],
    ['subscriber', subscriber],
  ] as const) {
    let lastReport = 0;
    client.on('error', (err: Error) => {
      if (Date.now() - lastReport < 60_000) return;
      lastReport = Date.now();
      opts.onError?.(err, name);
    });
    client.on('ready', () => (lastReport = 0));
  }

  let droppedSince: number | null = null;
  let closing = false;
  // Each message is parsed once for every subscriber of its channel on this replica (JSON.parse, no reviver).
  const pubsub = new RedisPubSub({ publisher, subscriber, serializer: (payload) => stampedJson(payload, Date.now()) });
  const bus = new EventBus(pubsub, prefix, {
    async close() {
      closing = true;
      await Promise.allSettled([publisher.quit(), subscriber.quit()]);
    },
    async ping() {
      if (subscriber.status !== 'ready') throw new Error(`Redis subscriber connection is ${subscriber.status}`);
      if (publisher.status !== 'ready') throw new Error(`Redis publisher connection is ${publisher.status}`);
      await publisher.ping();
    },
    onPublishError(err) {
      droppedSince ??= Date.now();
      opts.onPublishError?.(err);
    },
    onResyncError: opts.onResyncError,
    publishedAt: (payload) => {
      const at = (payload as Record<string, unknown>)[PUBLISHED_AT];
      return typeof at === 'number' ? at : undefined;
    },
  });
  const resync = (reason: string, since: number) => {
    const from = new Date(since - CLOCK_SLACK_MS);
    opts.onResync?.(reason, from);
    bus.resync(from);
  };

  // Our subscriber lost its connection: whatever was published meanwhile did not reach it.
  let lostAt: number | null = null;
  subscriber.on('close', () => (lostAt ??= Date.now()));
  subscriber.on('ready', () => {
    if (lostAt === null || closing) return;
    const since = lostAt;
    lostAt = null;
    // ioredis sends the SUBSCRIBEs of every channel right after emitting 'ready': a PING queued
    // behind them answers once they are all in place, and only then is the state re-read.
    setImmediate(() => {
      subscriber.ping().then(
        () => resync('the Redis subscriber connection is back', since),
        (err) => {
          lostAt ??= since;
          opts.onError?.(coerceError(err), 'subscriber');
        },
      );
    });
  });
  // Our publisher dropped publishes: tell every replica (ours included) once it can publish again.
  publisher.on('ready', () => {
    if (droppedSince === null || closing) return;
    const since = droppedSince;
    droppedSince = null;
    pubsub.publish(`${prefix}${RESYNC_CHANNEL}`, { since }).catch(() => (droppedSince ??= since));
  });

  await Promise.all([publisher.connect(), subscriber.connect()]);
  await pubsub.subscribe(
    `${prefix}${RESYNC_CHANNEL}`,
    (msg: { since?: unknown }) => {
      if (typeof msg?.since === 'number') resync('a replica could not publish for a while', msg.since);
    },
    {},
  );
  return bus;
}
