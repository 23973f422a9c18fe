import { PubSub, type PubSubEngine } from 'graphql-subscriptions';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import Redis from 'ioredis';
import type { Publication, Topic, TopicPayloads } from './topics';

/** Options of {@link EventBus.subscribe}. */
export interface SubscribeOptions<P> {
  /**
   * Most messages buffered for a slow consumer before the oldest are dropped. Default 1000.
   * `onDrop` is told about each one, so the caller can say what was lost (e.g. `droppedLines`).
   */
  highWaterMark?: number;
  onDrop?: (payload: P) => void;
}

/** A live subscription: iterate it; `close()` (or `return()`) unsubscribes. */
export interface BusSubscription<P> extends AsyncIterableIterator<P> {
  close(): void;
}

/**
 * Fan-out of run events to GraphQL subscribers: Redis pub/sub across replicas, or in-process.
 * `subscribe` resolves only once the subscription is in place (Redis acknowledged it), so a caller
 * that subscribes, then reads a snapshot, then streams misses nothing in between.
 */
export class EventBus {
  constructor(
    private readonly engine: PubSubEngine,
    private readonly prefix: string,
    private readonly onClose: () => Promise<void> = async () => undefined,
    private readonly pingFn: () => Promise<void> = async () => undefined,
  ) {}

  channel(topic: Topic, id?: string): string {
    return id ? `${this.prefix}${topic}:${id}` : `${this.prefix}${topic}`;
  }

  async publish<T extends Topic>(topic: T, id: string | undefined, payload: TopicPayloads[T]): Promise<void> {
    await this.engine.publish(this.channel(topic, id), payload);
  }

  async publishAll(publications: readonly Publication[]): Promise<void> {
    await Promise.all(publications.map((p) => this.publish(p.topic, p.id, p.payload as never)));
  }

  async subscribe<T extends Topic>(
    topic: T,
    id?: string,
    options: SubscribeOptions<TopicPayloads[T]> = {},
  ): Promise<BusSubscription<TopicPayloads[T]>> {
    type P = TopicPayloads[T];
    const highWaterMark = options.highWaterMark ?? 1000;
    const queue: P[] = [];
    let waiting: ((r: IteratorResult<P>) => void) | null = null;
    let done = false;
    const subId = await this.engine.subscribe(
      this.channel(topic, id),
      (payload: P) => {
        if (done) return;
        if (waiting) {
          const w = waiting;
          waiting = null;
          w({ value: payload, done: false });
          return;
        }
        queue.push(payload);
        if (queue.length > highWaterMark) options.onDrop?.(queue.shift()!);
      },
      {},
    );
    const close = () => {
      if (done) return;
      done = true;
      this.engine.unsubscribe(subId);
      queue.length = 0;
      waiting?.({ value: undefined, done: true });
      waiting = null;
    };
    const iterator: BusSubscription<P> = {
      next: () => {
        if (queue.length) return Promise.resolve({ value: queue.shift()!, done: false });
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (waiting = resolve));
      },
      return: () => {
        close();
        return Promise.resolve({ value: undefined, done: true });
      },
      throw: (err) => {
        close();
        return Promise.reject(err);
      },
      close,
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    return iterator;
  }

  /** Resolves when the bus can publish (Redis answers PING); rejects otherwise. */
  ping(): Promise<void> {
    return this.pingFn();
  }

  close(): Promise<void> {
    return this.onClose();
  }
}

/** The in-process bus: one gateway, no Redis. */
export function makeMemoryBus(prefix = 'jobwire:'): EventBus {
  const pubsub = new PubSub();
  // Many subscribers per channel is normal (a dashboard per user); silence EventEmitter's leak warning.
  (pubsub as unknown as { ee?: { setMaxListeners(n: number): void } }).ee?.setMaxListeners(0);
  return new EventBus(pubsub, prefix);
}

/**
 * The Redis bus: publishes on per-entity channels, with two connections of its own (a subscribed
 * connection cannot publish). Rejects when Redis cannot be reached within `connectTimeoutMs`.
 */
export async function makeRedisBus(
  url: string,
  prefix: string,
  opts: { connectTimeoutMs?: number; onError?: (err: Error, connection: 'publisher' | 'subscriber') => void } = {},
): Promise<EventBus> {
  const options = { lazyConnect: true, maxRetriesPerRequest: 3, connectTimeout: opts.connectTimeoutMs ?? 5000 };
  // The publishes of one turn of the event loop (a batch's runs, stages, jobs) go out in one write.
  const publisher = new Redis(url, { ...options, enableAutoPipelining: true });
  const subscriber = new Redis(url, options);
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
  await Promise.all([publisher.connect(), subscriber.connect()]);
  const pubsub = new RedisPubSub({ publisher, subscriber });
  return new EventBus(
    pubsub,
    prefix,
    async () => {
      await Promise.allSettled([publisher.quit(), subscriber.quit()]);
    },
    async () => {
      await publisher.ping();
    },
  );
}
