import { Counter, Gauge, type Registry } from 'prom-client';
import { ExecutionBackend, RunStatus } from '../domain';
import { coerceError } from '../errors';
import type { IngestStatusView } from '../kafka/ingest-status';
import { throttled, type Logger } from '../logger';
import { cached } from './cached';

/** Runs of one status on one backend. */
export interface RunCount {
  status: RunStatus;
  backend: ExecutionBackend;
  count: number;
}

export interface ScrapeSources {
  /** Every stored run, counted by status and backend (RunsService.countByStatusAndBackend). */
  runCounts: () => Promise<RunCount[]>;
  /** The Kafka consumer group's state (IngestStatusTracker.snapshot), when Kafka is configured. */
  ingest?: () => Promise<IngestStatusView>;
  logger: Logger;
  /** How long one reading serves every scrape. Default 5 s. */
  cacheMs?: number;
}

/** Default of {@link ScrapeSources.cacheMs}: scrapes come every 15–60 s; a storm of them costs one query per this. */
export const SCRAPE_CACHE_MS = 5000;

/**
 * The gauges read when `/metrics` is scraped: runs by status and backend (one `group by` over the
 * runs table), and, with Kafka, the consumer group's lag per partition, its connection and pending
 * dead letters (what `ingestStatus` answers: committed offsets and end offsets from the broker).
 * Readings are cached for `cacheMs` and shared by concurrent scrapes. When a reading fails (the
 * database or the broker is away) the gauges keep their last values,
 * `jobwire_metrics_collect_errors_total` counts it, and the log says so at most once a minute.
 */
export function registerScrapeGauges(registry: Registry, sources: ScrapeSources): void {
  const registers = [registry];
  const cacheMs = sources.cacheMs ?? SCRAPE_CACHE_MS;
  const failures = new Counter({
    name: 'jobwire_metrics_collect_errors_total',
    help: 'Scrape-time readings that failed (their gauges kept their last values), by collector',
    labelNames: ['collector'] as const,
    registers,
  });
  const report = throttled(60_000, (suppressed, collector: string, err: Error) =>
    sources.logger.warn(
      { err, collector, failuresSinceLastReport: suppressed, component: 'metrics' },
      `metrics: ${collector} could not be read: ${err.message}`,
    ),
  );
  /** Runs `fn` on a reading; a failure is counted and logged, never fails the scrape. */
  const reading =
    <T>(collector: string, read: () => Promise<T>, fn: (value: T) => void) =>
    async () => {
      try {
        fn(await read());
      } catch (err) {
        failures.inc({ collector });
        report(collector, coerceError(err));
      }
    };

  const runCounts = cached(sources.runCounts, cacheMs);
  const runs: Gauge<'status' | 'backend'> = new Gauge({
    name: 'jobwire_runs',
    help: 'Stored runs by status and backend (every combination, 0 when none), read at scrape time',
    labelNames: ['status', 'backend'] as const,
    registers,
    collect: reading('runs', runCounts, (counts) => {
      const n = new Map(counts.map((c) => [`${c.status}/${c.backend}`, c.count]));
      for (const status of Object.values(RunStatus))
        for (const backend of Object.values(ExecutionBackend)) runs.set({ status, backend }, n.get(`${status}/${backend}`) ?? 0);
    }),
  });

  if (!sources.ingest) return;
  const ingest = cached(sources.ingest, cacheMs);
  // One reading fills the three gauges: the first one's collect makes it, the others' share it (cached).
  const fill = reading('kafka', ingest, (status) => {
    lag.reset();
    for (const p of status.partitions) lag.set({ topic: p.topic, partition: String(p.partition) }, p.lag);
    connected.set(status.connected ? 1 : 0);
    deadLetters.set(status.deadLettersPending);
  });
  const lag = new Gauge({
    name: 'jobwire_kafka_consumer_lag_records',
    help: "Records of each partition the gateway's consumer group has not committed yet (the broker's end offset minus the committed one)",
    labelNames: ['topic', 'partition'] as const,
    registers,
    collect: fill,
  });
  const connected = new Gauge({
    name: 'jobwire_kafka_consumer_connected',
    help: '1 when some consumer of the group is connected and none is paused, as ingestStatus says',
    registers,
    collect: fill,
  });
  const deadLetters = new Gauge({
    name: 'jobwire_kafka_dead_letters_pending',
    help: 'Kafka records that could not be applied and wait for a replay or a discard',
    registers,
    collect: fill,
  });
}
