import { PubSub, type PubSubEngine } from 'graphql-subscriptions';
import { setTimeout as sleep } from 'node:timers/promises';
import { coerceError } from '../errors';
import type { Publication, Topic, TopicMessage, TopicPayloads } from './topics';

/** Options of {@link EventBus.subscribe}. */
export interface SubscribeOptions<P> {
  /**
   * Most messages buffered for a slow consumer before the oldest are dropped. Default 1000.
   * `onDrop` is told about each one, so the caller can say what was lost (e.g. `droppedLines`).
   */
  highWaterMark?: number;
  onDrop?: (payload: P) => void;
  /**
   * Called when the bus is back after an outage (Redis reconnected, or some replica could not
   * publish for a while): messages published meanwhile may never arrive. The subscriber re-reads
   * what it shows from the database and hands it to itself with {@link BusSubscription.push}, so
   * its client converges. `since` is when the outage began (a few seconds earlier, for clocks that
   * differ between replicas). Called after the channel is subscribed again, so nothing committed
   * after the re-read is missed. A rejection is tried again twice (1 s, then 2 s later), then
   * reported to the bus's `onResyncError`.
   */
  onResync?: (since: Date) => Promise<void> | void;
}

/** A live subscription: iterate it; `close()` (or `return()`) unsubscribes. */
export interface BusSubscription<P> extends AsyncIterableIterator<P> {
  close(): void;
  /** Hands `payload` to this subscriber alone, as if it had been published (what a resync re-read). */
  push(payload: P): void;
}

/** What a bus implementation adds to {@link EventBus}; every member is optional. */
export interface BusHooks {
  /** Releases the connections. */
  close?: () => Promise<void>;
  /** Resolves when the bus can publish and receive; rejects saying why not. */
  ping?: () => Promise<void>;
  /** Told of each publish that failed (before the rejection goes to the caller). */
  onPublishError?: (err: Error) => void;
  /** Told when a subscriber's resync failed three times. */
  onResyncError?: (err: Error) => void;
  /** When a received payload was published (ms since the epoch), as the bus's envelope carries it. */
  publishedAt?: (payload: object) => number | undefined;
}

/** Resyncs asked for within this window are made once (a reconnect and a replica's notice often come together). */
const RESYNC_COALESCE_MS = 100;
const RESYNC_TRIES = 3;

/**
 * Fan-out of run events to GraphQL subscribers: Redis pub/sub across replicas, or in-process.
 * `subscribe` resolves only once the subscription is in place (Redis acknowledged it), so a caller
 * that subscribes, then reads a snapshot, then streams misses nothing in between. When the bus
 * comes back after an outage, every subscription that asked for it (`onResync`) is told, so it can
 * re-read what it may have missed.
 */
export class EventBus {
  private readonly resyncListeners = new Set<(since: Date) => Promise<void> | void>();
  private resyncSince: number | null = null;
  private resyncTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly engine: PubSubEngine,
    private readonly prefix: string,
    private readonly hooks: BusHooks = {},
  ) {}

  channel(topic: Topic, id?: string): string {
    return id ? `${this.prefix}${topic}:${id}` : `${this.prefix}${topic}`;
  }

  async publish<T extends Topic>(topic: T, id: string | undefined, payload: TopicPayloads[T]): Promise<void> {
    try {
      await this.engine.publish(this.channel(topic, id), payload);
    } catch (err) {
      this.hooks.onPublishError?.(coerceError(err));
      throw err;
    }
  }

  async publishAll(publications: readonly Publication[]): Promise<void> {
    await Promise.all(publications.map((p) => this.publish(p.topic, p.id, p.payload as never)));
  }

  async subscribe<T extends Topic>(
    topic: T,
    id?: string,
    options: SubscribeOptions<TopicPayloads[T]> = {},
  ): Promise<BusSubscription<TopicPayloads[T]>> {
    return this.open([{ channel: this.channel(topic, id), wrap: (p: TopicPayloads[T]) => p }], options);
  }

  /**
   * One subscription to several channels, in one queue: messages come out in the order they
   * arrived, whatever their channel (one publisher's messages in the order it published them), each
   * with the topic it came on. Otherwise as {@link subscribe}.
   */
  async subscribeMerged<T extends Topic>(
    sources: readonly { topic: T; id?: string }[],
    options: SubscribeOptions<TopicMessage<T>> = {},
  ): Promise<BusSubscription<TopicMessage<T>>> {
    return this.open(
      sources.map(({ topic, id }) => ({
        channel: this.channel(topic, id),
        wrap: (payload: TopicPayloads[T]) => ({ topic, payload }) as TopicMessage<T>,
      })),
      options,
    );
  }

  private async open<P>(
    channels: readonly { channel: string; wrap: (payload: never) => P }[],
    options: SubscribeOptions<P>,
  ): Promise<BusSubscription<P>> {
    const highWaterMark = options.highWaterMark ?? 1000;
    const queue: P[] = [];
    let waiting: ((r: IteratorResult<P>) => void) | null = null;
    let done = false;
    const deliver = (payload: P) => {
      if (done) return;
      if (waiting) {
        const w = waiting;
        waiting = null;
        w({ value: payload, done: false });
        return;
      }
      queue.push(payload);
      if (queue.length > highWaterMark) options.onDrop?.(queue.shift()!);
    };
    const subIds: number[] = [];
    try {
      for (const id of await Promise.all(
        channels.map((c) => {
          const wrap = c.wrap as (payload: unknown) => P;
          return this.engine.subscribe(c.channel, (raw: unknown) => deliver(wrap(raw)), {});
        }),
      ))
        subIds.push(id);
    } catch (err) {
      for (const id of subIds) this.engine.unsubscribe(id);
      throw err;
    }
    const onResync = options.onResync;
    if (onResync) this.resyncListeners.add(onResync);
    const close = () => {
      if (done) return;
      done = true;
      if (onResync) this.resyncListeners.delete(onResync);
      for (const id of subIds) this.engine.unsubscribe(id);
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
      push: deliver,
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    return iterator;
  }

  /**
   * Tells every subscription that asked (`onResync`) that messages since `since` may be lost.
   * Calls within {@link RESYNC_COALESCE_MS} make one resync, from the earliest `since`.
   */
  resync(since: Date): void {
    this.resyncSince = Math.min(this.resyncSince ?? Infinity, since.getTime());
    if (this.resyncTimer) return;
    this.resyncTimer = setTimeout(() => {
      this.resyncTimer = null;
      const from = new Date(this.resyncSince!);
      this.resyncSince = null;
      for (const listener of [...this.resyncListeners]) void this.resyncOne(listener, from);
    }, RESYNC_COALESCE_MS);
    this.resyncTimer.unref();
  }

  /**
   * When `payload`, as a subscriber received it, was published (ms since the epoch, the
   * publishing replica's clock); undefined for what was not received from the bus (snapshots,
   * re-reads, values made from a payload). For `jobwire_publish_to_delivery_seconds`.
   */
  publishedAt(payload: unknown): number | undefined {
    return typeof payload === 'object' && payload !== null ? this.hooks.publishedAt?.(payload) : undefined;
  }

  /** How many subscriptions a resync would reach now. */
  get resyncing(): number {
    return this.resyncListeners.size;
  }

  private async resyncOne(listener: (since: Date) => Promise<void> | void, since: Date) {
    for (let i = 1; ; i++) {
      try {
        await listener(since);
        return;
      } catch (err) {
        if (i >= RESYNC_TRIES || !this.resyncListeners.has(listener)) {
          if (this.resyncListeners.has(listener)) this.hooks.onResyncError?.(coerceError(err));
          return;
        }
        await sleep(1000 * i);
      }
    }
  }

  /** Resolves when the bus can publish and receive (Redis answers on both connections); rejects saying why not. */
  ping(): Promise<void> {
    return this.hooks.ping?.() ?? Promise.resolve();
  }

  close(): Promise<void> {
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    this.resyncTimer = null;
    this.resyncListeners.clear();
    return this.hooks.close?.() ?? Promise.resolve();
  }
}

/**
 * The in-process bus: one gateway, no Redis. Every subscriber receives the very object published,
 * so its publish time is noted beside it (a WeakMap: the payload itself is not touched).
 */
export function makeMemoryBus(prefix = 'jobwire:'): EventBus {
  const stamps = new WeakMap<object, number>();
  const pubsub = new PubSub();
  const publish = pubsub.publish.bind(pubsub);
  pubsub.publish = (channel, payload) => {
    if (typeof payload === 'object' && payload !== null) stamps.set(payload, Date.now());
    return publish(channel, payload);
  };
  // Many subscribers per channel is normal (a dashboard per user); silence EventEmitter's leak warning.
  (pubsub as unknown as { ee?: { setMaxListeners(n: number): void } }).ee?.setMaxListeners(0);
  return new EventBus(pubsub, prefix, { publishedAt: (payload) => stamps.get(payload) });
}

export { makeRedisBus, type RedisBusOptions } from './redis-bus';
