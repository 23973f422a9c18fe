/**
 * A minimal batching loader (the part of DataLoader the resolvers need): every `load` made in the
 * same tick becomes one `batch` call. With `cache` on, a key is loaded at most once per loader
 * (one HTTP request); off, only calls in the same tick share a result (long-lived subscription
 * contexts, where a cached job would go stale).
 */
export class BatchLoader<K, V> {
  private queue: { key: K; resolve: (v: V) => void; reject: (e: unknown) => void }[] = [];
  private readonly cache = new Map<K, Promise<V>>();

  constructor(
    private readonly batch: (keys: readonly K[]) => Promise<V[]>,
    private readonly options: { cache: boolean } = { cache: true },
  ) {}

  load(key: K): Promise<V> {
    const cached = this.cache.get(key);
    if (cached) return cached;
    const promise = new Promise<V>((resolve, reject) => {
      this.queue.push({ key, resolve, reject });
      // Same scheduling as DataLoader: after the current promise jobs, so sibling resolvers join in.
      if (this.queue.length === 1) Promise.resolve().then(() => process.nextTick(() => void this.dispatch()));
    });
    this.cache.set(key, promise);
    if (!this.options.cache) promise.finally(() => this.cache.delete(key)).catch(() => undefined);
    return promise;
  }

  private async dispatch(): Promise<void> {
    const items = this.queue;
    this.queue = [];
    try {
      const values = await this.batch(items.map((i) => i.key));
      if (values.length !== items.length) throw new Error(`batch returned ${values.length} values for ${items.length} keys`);
      items.forEach((item, i) => item.resolve(values[i]));
    } catch (err) {
      for (const item of items) {
        this.cache.delete(item.key);
        item.reject(err);
      }
    }
  }
}
