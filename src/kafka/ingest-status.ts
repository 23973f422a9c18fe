import type { Admin } from 'kafkajs';
import { coerceError } from '../errors';
import type { BusSubscription, EventBus } from '../events/bus';
import { Topic, type IngestReportPayload } from '../events/topics';
import { throttled, type Logger } from '../logger';

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
/** How often a consumer tells the other replicas how it is doing. */
const REPORT_INTERVAL_MS = 1000;
/** A replica's report older than this no longer counts (the replica is gone or its consumer stopped). */
const REPORT_TTL_MS = 3 * REPORT_INTERVAL_MS + 500;

export interface IngestStatusDeps {
  admin: Pick<Admin, 'fetchTopicOffsets' | 'fetchOffsets'>;
  groupId: string;
  topics: string[];
  pendingDeadLetters(): Promise<number>;
  /** The bus the replicas share: each consumer reports on it, every replica reads the reports. */
  bus?: Pick<EventBus, 'publish' | 'subscribe'>;
  /** This process (reports from it are not counted twice). */
  instanceId?: string;
  logger?: Logger;
  now?: () => number;
}

/**
 * The Kafka consumer group's state. Each replica's consumer reports here (connected, paused,
 * events applied) and, once `start()`ed, tells the other replicas about once a second over the
 * bus; `snapshot()` (what `ingestStatus` answers on any replica, consumer or not) adds up the
 * group: connected when some consumer is and none is paused, events applied per second by all of
 * them, and the lag of every partition from the group's committed offsets on the broker. `/readyz`
 * reads `readiness()`, this process's own consumer.
 */
export class IngestStatusTracker implements IngestProgress {
  private connected = false;
  /** Set once this process runs a consumer (it reports only then). */
  private consuming = false;
  private paused: string | null = null;
  private readonly samples: { at: number; n: number }[] = [];
  private appliedTotal = 0;
  private readonly peers = new Map<string, IngestReportPayload>();
  private reportTimer: NodeJS.Timeout | null = null;
  private sub: BusSubscription<IngestReportPayload> | null = null;

  constructor(private readonly deps: IngestStatusDeps) {}

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  setConnected(connected: boolean): void {
    this.consuming = true;
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

  private ownRate(): number {
    this.trim();
    return this.samples.reduce((a, s) => a + s.n, 0) / (RATE_WINDOW_MS / 1000);
  }

  /** Starts reading the other replicas' reports and sending this one's. Resolves once subscribed. */
  async start(): Promise<void> {
    const { bus } = this.deps;
    if (!bus || this.sub) return;
    this.sub = await bus.subscribe(Topic.INGEST_REPORT, undefined, { highWaterMark: 100 });
    void (async () => {
      for await (const report of this.sub!) if (report.instanceId !== this.deps.instanceId) this.peers.set(report.instanceId, report);
    })();
    this.reportTimer = setInterval(() => void this.report(), REPORT_INTERVAL_MS);
    this.reportTimer.unref();
  }

  /** Stops reporting. Idempotent. */
  close(): void {
    if (this.reportTimer) clearInterval(this.reportTimer);
    this.reportTimer = null;
    this.sub?.close();
    this.sub = null;
  }

  /** Tells the other replicas how this consumer is doing (one small message a second while it runs). */
  private async report() {
    if (!this.consuming || !this.deps.bus) return;
    const payload: IngestReportPayload = {
      instanceId: this.deps.instanceId ?? '',
      connected: this.connected,
      paused: this.paused,
      appliedPerSecond: this.ownRate(),
      at: this.now(),
    };
    await this.deps.bus.publish(Topic.INGEST_REPORT, undefined, payload).catch((err) => this.reportPublishError(err));
  }

  /** Once a second while Redis is away would flood the log: the first, then one a minute. */
  private readonly reportPublishError = throttled(60_000, (suppressed, err: unknown) =>
    this.deps.logger?.warn(
      { err: coerceError(err), component: 'ingest-status', failuresSinceLastReport: suppressed },
      'ingest report not published',
    ),
  );

  /** `ok`, or why the consumer is not healthy (for /readyz). */
  readiness(): string {
    if (!this.connected) return 'kafka consumer not connected';
    return this.paused ? `kafka consumer paused: ${this.paused}` : 'ok';
  }

  /** The group's status now: lag per partition (asked of the broker), the rate of every consumer, pending dead letters. */
  async snapshot(): Promise<IngestStatusView> {
    const now = this.now();
    const consumers: Pick<IngestReportPayload, 'connected' | 'paused' | 'appliedPerSecond'>[] = [];
    if (this.consuming) consumers.push({ connected: this.connected, paused: this.paused, appliedPerSecond: this.ownRate() });
    for (const [id, report] of this.peers) {
      if (now - report.at > REPORT_TTL_MS) this.peers.delete(id);
      else consumers.push(report);
    }
    const partitions: PartitionLagView[] = [];
    let brokerAnswered = true;
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
      // The broker is away: report what the replicas know (no partitions, not connected).
      brokerAnswered = false;
      partitions.length = 0;
    }
    partitions.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    const rate = consumers.reduce((a, c) => a + c.appliedPerSecond, 0);
    return {
      connected: brokerAnswered && consumers.some((c) => c.connected) && consumers.every((c) => !c.connected || c.paused === null),
      groupId: this.deps.groupId,
      partitions,
      totalLag: partitions.reduce((a, p) => a + p.lag, 0),
      appliedPerSecond: Math.round(rate * 10) / 10,
      deadLettersPending: await this.deps.pendingDeadLetters(),
      updatedAt: new Date(now).toISOString(),
    };
  }
}
