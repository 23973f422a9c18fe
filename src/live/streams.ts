import type { BusSubscription } from '../events/bus';

/**
 * Building blocks of the subscription streams. Every stream follows one order: subscribe to the bus
 * (resolves once the channel is really subscribed), read the snapshot from the service, then stream,
 * dropping what the snapshot already covered. Whatever happens, the bus subscription is closed.
 */

/** A live stream: iterate it; `return()` ends it, releasing its bus subscription at once. */
export interface LiveStream<T> extends AsyncIterableIterator<T> {
  return(value?: unknown): Promise<IteratorResult<T>>;
}

/**
 * The stream most subscriptions are: the `snapshot` values first, then every live value that
 * `accept` lets through (it may keep per-subscriber state, e.g. the last version sent). A plain
 * iterator rather than an async generator: a live value costs one promise callback per subscriber,
 * not a generator resumption, and `return()` reaches the bus subscription at once, even while a
 * `next()` is waiting. The subscription is closed exactly once however the stream ends, and a
 * snapshot value is let go once handed out (an open subscription keeps none of its first message).
 */
export function snapshotThenLive<T>(snapshot: readonly T[], live: BusSubscription<T>, accept: (value: T) => boolean): LiveStream<T> {
  return new SnapshotThenLive(snapshot, live, accept);
}

class SnapshotThenLive<T> implements LiveStream<T> {
  private closed = false;
  private readonly step = (r: IteratorResult<T>): IteratorResult<T> | Promise<IteratorResult<T>> => {
    if (r.done) {
      this.close();
      return r;
    }
    return this.accept(r.value) ? r : this.live.next().then(this.step);
  };

  private snapshot: T[] | null;

  constructor(
    snapshot: readonly T[],
    private readonly live: BusSubscription<T>,
    private readonly accept: (value: T) => boolean,
  ) {
    this.snapshot = snapshot.length ? [...snapshot] : null;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.snapshot) {
      const value = this.snapshot.shift()!;
      if (this.snapshot.length === 0) this.snapshot = null;
      return Promise.resolve({ value, done: false });
    }
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return this.live.next().then(this.step);
  }

  return(): Promise<IteratorResult<T>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(err?: unknown): Promise<IteratorResult<T>> {
    this.close();
    return Promise.reject(err);
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  private close() {
    if (this.closed) return;
    this.closed = true;
    this.snapshot = null;
    this.live.close();
  }
}

/**
 * The values of `stream` that `keep` resolves true for, in order; for filters that must look
 * something up (a run's job tags). `return()` ends `stream` at once.
 */
export function keepWhere<T>(stream: LiveStream<T>, keep: (value: T) => boolean | Promise<boolean>): LiveStream<T> {
  const filtered: LiveStream<T> = {
    async next() {
      for (;;) {
        const r = await stream.next();
        if (r.done || (await keep(r.value))) return r;
      }
    },
    return: (value?: unknown) => stream.return(value),
    throw: (err?: unknown) => (stream.throw ? stream.throw(err) : Promise.reject(err)),
    [Symbol.asyncIterator]() {
      return filtered;
    },
  };
  return filtered;
}

/**
 * Wraps a generator so that `onClose` runs exactly once however the stream ends: the generator
 * finishing or throwing, or the client leaving with `return()` — even before the first `next()`,
 * when a plain generator would skip its `finally` blocks.
 */
export function closing<T>(gen: AsyncGenerator<T>, onClose: () => void): AsyncGenerator<T> {
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    onClose();
  };
  const wrapped: AsyncGenerator<T> = {
    async next() {
      try {
        const r = await gen.next();
        if (r.done) close();
        return r;
      } catch (err) {
        close();
        throw err;
      }
    },
    async return(value?: unknown) {
      close(); // first: it ends a bus iterator the generator may be waiting on
      try {
        return await gen.return(value as T);
      } catch {
        return { value: undefined as T, done: true };
      }
    },
    async throw(err?: unknown) {
      close();
      return gen.throw(err);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  } as AsyncGenerator<T>;
  return wrapped;
}

/**
 * Runs `fn` (the snapshot read) and closes `resource` if it throws, so a failed subscribe (e.g.
 * NOT_FOUND) never leaks a bus subscription.
 */
export async function orClose<T>(resource: { close(): void }, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    resource.close();
    throw err;
  }
}

/**
 * A one-slot mailbox for state streams (stats): `push` replaces any value not yet taken, so a slow
 * client always gets the newest state and never a backlog.
 */
export class LatestValue<T> {
  private value: { v: T } | null = null;
  private waiting: ((r: IteratorResult<T>) => void) | null = null;
  private done = false;

  push(v: T) {
    if (this.done) return;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w({ value: v, done: false });
    } else {
      this.value = { v };
    }
  }

  /** True when nothing has been pushed since the last take. */
  get empty() {
    return this.value === null;
  }

  close() {
    this.done = true;
    this.waiting?.({ value: undefined, done: true });
    this.waiting = null;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      if (this.value) {
        const { v } = this.value;
        this.value = null;
        yield v;
        continue;
      }
      if (this.done) return;
      const r = await new Promise<IteratorResult<T>>((resolve) => (this.waiting = resolve));
      if (r.done) return;
      yield r.value;
    }
  }
}
