import type { IngestStatusView } from '../kafka/ingest-status';
import { withContext } from '../errors';
import type { Logger } from '../logger';
import { LatestValue, closing } from './streams';

type Listener = (status: IngestStatusView) => void;

export interface IngestFeedDeps {
  /** The group's status now (IngestStatusTracker.snapshot). */
  snapshot(): Promise<IngestStatusView>;
  logger: Logger;
  /** How often the status is looked at while anyone listens. Default 2000 ms (the contract's "at most every 2 s"). */
  intervalMs?: number;
}

/** What a status says beyond the moment it was taken: two statuses that differ only in `updatedAt` are the same news. */
const content = (s: IngestStatusView) => JSON.stringify({ ...s, updatedAt: null });

/**
 * The `ingestStatusUpdated` source, shared by every subscriber of this process: while anyone
 * listens, one status every `intervalMs` (a few broker requests and one count, whatever the number
 * of subscribers), handed out only when something in it moved (lag, rate, connection, dead letters).
 * A failed look is logged and skipped (the next tick tries again).
 */
export class IngestFeed {
  private readonly listeners = new Set<Listener>();
  private timer: NodeJS.Timeout | null = null;
  private last: string | null = null;
  private looking = false;
  private readonly intervalMs: number;

  constructor(private readonly deps: IngestFeedDeps) {
    this.intervalMs = deps.intervalMs ?? 2000;
  }

  /** `ingestStatusUpdated`: the status now, then each change, at most one per interval. */
  async stream(): Promise<AsyncGenerator<IngestStatusView>> {
    const box = new LatestValue<IngestStatusView>();
    // What this subscriber last got: a tick that only repeats its first message is not sent to it.
    let sent: string | null = null;
    const listener: Listener = (s) => {
      const key = content(s);
      if (key === sent) return;
      sent = key;
      box.push(s);
    };
    this.listeners.add(listener);
    this.ensureTicking();
    try {
      const first = await this.deps.snapshot();
      if (box.empty) listener(first);
    } catch (err) {
      this.detach(listener);
      throw err;
    }
    return closing(box[Symbol.asyncIterator](), () => {
      this.detach(listener);
      box.close();
    });
  }

  close(): void {
    this.listeners.clear();
    this.stopTicking();
  }

  private detach(listener: Listener) {
    this.listeners.delete(listener);
    if (this.listeners.size === 0) this.stopTicking();
  }

  private ensureTicking() {
    if (this.timer) return;
    this.timer = setInterval(() => void this.look(), this.intervalMs);
    this.timer.unref();
  }

  private stopTicking() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.last = null;
  }

  private async look() {
    if (this.looking || this.listeners.size === 0) return;
    this.looking = true;
    try {
      const status = await this.deps.snapshot();
      const key = content(status);
      if (key === this.last) return;
      this.last = key;
      for (const l of [...this.listeners]) l(status);
    } catch (err) {
      this.deps.logger.error(
        { err: withContext(err, 'ingest feed: reading the consumer status'), component: 'ingest-feed' },
        'ingest status failed',
      );
    } finally {
      this.looking = false;
    }
  }
}
