import type { Admin } from 'kafkajs';

/** Lag of one partition the gateway's group consumes. */
export interface PartitionLagView {
  topic: string;
  partition: number;
  committedOffset: string | null;
  endOffset: string;
  lag: number;
}

/** The consumer's health, as dashboards show it (`IngestStatus` in the API). */
export interface IngestStatusView {
  connected: boolean;
  groupId: string;
  partitions: PartitionLagView[];
  totalLag: number;
  appliedPerSecond: number;
  deadLettersPending: number;
  updatedAt: string;
}

/** What the consumer of this gateway reports as it goes. */
export interface IngestProgress {
  /** The consumer is connected and in its group. */
  setConnected(connected: boolean): void;
  /** `n` events were applied just now. */
  applied(n: number): void;
  /** Why the consumer is not consuming now (e.g. the database is away), or null. */
  setPaused(reason: string | null): void;
}

/** Window over which `appliedPerSecond` is measured. */
const RATE_WINDOW_MS = 5000;

/**
 * The Kafka consumer's state: what the consumer of this process reports (connected, paused,
 * events applied per second over the last few seconds) and what the group's offsets say (lag per
 * partition, from the broker). `snapshot()` answers `ingestStatus`; `/readyz` reads `readiness()`.
 */
export class IngestStatusTracker implements IngestProgress {
  private connected = false;
  private paused: string | null = null;
  private readonly samples: { at: number; n: number }[] = [];
  private appliedTotal = 0;

  constructor(
    private readonly deps: {
      admin: Pick<Admin, 'fetchTopicOffsets' | 'fetchOffsets'>;
      groupId: string;
      topics: string[];
      pendingDeadLetters(): Promise<number>;
      now?: () => number;
    },
  ) {}

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  setConnected(connected: boolean): void {
    this.connected = connected;
  }

  setPaused(reason: string | null): void {
    this.paused = reason;
  }

  applied(n: number): void {
    if (n <= 0) return;
    this.appliedTotal += n;
    this.samples.push({ at: this.now(), n });
    this.trim();
  }

  /** Events applied by this process since it started (changes whenever anything moves). */
  get total(): number {
    return this.appliedTotal;
  }

  private trim() {
    const from = this.now() - RATE_WINDOW_MS;
    while (this.samples.length && this.samples[0].at < from) this.samples.shift();
  }

  /** `ok`, or why the consumer is not healthy (for /readyz). */
  readiness(): string {
    if (!this.connected) return 'kafka consumer not connected';
    return this.paused ? `kafka consumer paused: ${this.paused}` : 'ok';
  }

  /** The status now: the group's lag per partition (asked of the broker), the rate, pending dead letters. */
  async snapshot(): Promise<IngestStatusView> {
    this.trim();
    const rate = this.samples.reduce((a, s) => a + s.n, 0) / (RATE_WINDOW_MS / 1000);
    const partitions: PartitionLagView[] = [];
    try {
      const committed = await this.deps.admin.fetchOffsets({ groupId: this.deps.groupId, topics: this.deps.topics });
      for (const topic of this.deps.topics) {
        const ends = await this.deps.admin.fetchTopicOffsets(topic);
        const mine = committed.find((c) => c.topic === topic)?.partitions ?? [];
        for (const end of ends) {
          const c = mine.find((p) => p.partition === end.partition)?.offset;
          const committedOffset = c !== undefined && c !== '-1' ? c : null;
          const lag = Math.max(0, Number(end.offset) - Number(committedOffset ?? end.low));
          partitions.push({ topic, partition: end.partition, committedOffset, endOffset: end.offset, lag });
        }
      }
    } catch {
      // The broker is away: report what this process knows (disconnected, no partitions).
    }
    partitions.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    return {
      connected: this.connected && this.paused === null,
      groupId: this.deps.groupId,
      partitions,
      totalLag: partitions.reduce((a, p) => a + p.lag, 0),
      appliedPerSecond: Math.round(rate * 10) / 10,
      deadLettersPending: await this.deps.pendingDeadLetters(),
      updatedAt: new Date(this.now()).toISOString(),
    };
  }
}
