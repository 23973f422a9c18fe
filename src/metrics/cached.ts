/**
 * `load`, called at most once per `ttlMs`: callers within that time get the promise of the last
 * call (while it is in flight too, so a burst of callers makes one call). A rejection is not kept:
 * the next caller tries again. What `/metrics` reads at scrape time goes through this, so a scrape
 * storm (several Prometheus servers, a dashboard refreshing) costs the database one query per `ttlMs`.
 */
export function cached<T>(load: () => Promise<T>, ttlMs: number, now: () => number = Date.now): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | null = null;
  return () => {
    const t = now();
    if (last && t - last.at < ttlMs) return last.value;
    const value = load();
    const entry = { at: t, value };
    last = entry;
    value.catch(() => {
      if (last === entry) last = null;
    });
    return value;
  };
}
