import type { JobStatsView, RunsApi } from '../api';
import type { EventBus, BusSubscription } from '../events/bus';
import { Topic } from '../events/topics';
import type { RunView } from '../domain';
import { withContext } from '../errors';
import type { Logger } from '../logger';

type Listener = (stats: JobStatsView) => void;

export interface StatsFeedDeps {
  runs: RunsApi;
  bus: EventBus;
  logger: Logger;
  /** Window that gathers a burst of status changes into one recomputation. Default 250 ms. */
  debounceMs?: number;
}

/**
 * The `jobStatsUpdated` source, shared by every subscriber of this process: one RUN_STATUS bus
 * subscription while anyone listens, and one `runs.stats()` per burst of status changes whatever
 * the number of subscribers. A failed recomputation is logged and skipped (the next change retries).
 */
export class StatsFeed {
  private readonly listeners = new Set<Listener>();
  private sub: Promise<BusSubscription<RunView>> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private computing = false;
  private dirty = false;
  private closed = false;
  private readonly debounceMs: number;

  constructor(private readonly deps: StatsFeedDeps) {
    this.debounceMs = deps.debounceMs ?? 250;
  }

  /**
   * Adds a listener and resolves once the bus subscription is in place (so a snapshot read after
   * this misses nothing). Returns the function that removes the listener.
   */
  async attach(listener: Listener): Promise<() => void> {
    if (this.closed) throw new Error('StatsFeed is closed');
    this.listeners.add(listener);
    try {
      await this.ensureSubscribed();
    } catch (err) {
      this.detach(listener);
      throw err;
    }
    return () => this.detach(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    await this.stop();
  }

  private detach(listener: Listener) {
    this.listeners.delete(listener);
    if (this.listeners.size === 0) void this.stop();
  }

  private ensureSubscribed(): Promise<BusSubscription<RunView>> {
    if (!this.sub) {
      // After a bus outage the stats are computed again: changes made meanwhile were not heard of.
      const sub = this.deps.bus.subscribe(Topic.RUN_STATUS, undefined, { highWaterMark: 100, onResync: () => this.schedule() });
      this.sub = sub;
      sub.then(
        (s) => this.pump(s),
        () => {
          if (this.sub === sub) this.sub = null;
        },
      );
    }
    return this.sub;
  }

  private async pump(sub: BusSubscription<RunView>) {
    // Each message only marks the stats dirty; the content is recomputed from the database.
    for await (const _ of sub) this.schedule();
  }

  private schedule() {
    if (this.timer || this.listeners.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.recompute();
    }, this.debounceMs);
  }

  private async recompute() {
    if (this.computing) {
      this.dirty = true;
      return;
    }
    this.computing = true;
    try {
      const stats = await this.deps.runs.stats();
      for (const l of [...this.listeners]) l(stats);
    } catch (err) {
      this.deps.logger.error(
        { err: withContext(err, 'stats feed: recomputing job stats'), component: 'stats-feed' },
        'job stats recomputation failed',
      );
    } finally {
      this.computing = false;
      if (this.dirty) {
        this.dirty = false;
        this.schedule();
      }
    }
  }

  private async stop() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const sub = this.sub;
    this.sub = null;
    if (sub) (await sub.catch(() => null))?.close();
  }
}
