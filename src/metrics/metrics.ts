import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The gateway's Prometheus metrics (`GET /metrics`): one registry per gateway, made by the
 * composition root and handed to the components that observe something. Components see only the
 * small interfaces below (plain functions, no prom-client types), so a gateway with
 * `METRICS_ENABLED=false` simply passes none and nothing is observed. Every observation is O(1):
 * a counter or histogram update keyed by a few bounded label values (never a run id, a job's
 * parameters or anything a client chooses).
 */

/** Where a run event came from: the `source` label of `jobwire_run_events_total`. */
export type EventSource = 'api' | 'local' | 'kafka' | 'spark' | 'scheduler' | 'monitor' | 'internal';

/** What applying one event came to (RunEventsService's outcomes). */
export type EventOutcome = 'applied' | 'duplicate' | 'ignored' | 'unknown-run' | 'rejected';

/** What the one writer of run state reports (src/runs/run-events.service.ts). */
export interface RunEventsMetrics {
  /** `n` events from `source` came to `outcome` (counted once their transaction committed). */
  events(source: EventSource, outcome: EventOutcome, n?: number): void;
  /** One transaction of the writer (`operation`: apply, batch, claim, create, schedule, delete) took `seconds`, commit and publish included. */
  transaction(operation: string, seconds: number): void;
}

/** What the WebSocket server reports (src/server/ws*.ts). */
export interface WsMetrics {
  connectionOpened(): void;
  connectionClosed(): void;
  /** A subscription on root field `field` started streaming. */
  subscriptionStarted(field: string): void;
  subscriptionEnded(field: string): void;
  /** When `event` (a subscription's root value) was published on the bus; undefined for what was not (snapshots). */
  publishedAt(event: unknown): number | undefined;
  /** The message of an event published at `publishedAt` (ms since the epoch) was written to a socket. */
  delivered(publishedAt: number): void;
}

/** What the GraphQL edge reports (HTTP and WebSocket alike). */
export interface GraphQLMetrics {
  /** An error with `code` went to a client. */
  error(code: string): void;
  /** A query or mutation (`operationType`; `unknown` when it was refused before it ran) took `seconds` to answer. */
  request(transport: 'http' | 'ws', operationType: string, seconds: number): void;
}

/** What the Spark poller reports (workers/spark-poller.ts). */
export interface SparkPollMetrics {
  /** One cycle took `seconds`; `leader` false when another replica holds the poller's lease (this one asked nothing). */
  cycle(seconds: number, leader: boolean): void;
  /** A cycle could not reach the master (`master_unreachable`) or failed (`cycle_failed`). */
  error(kind: 'master_unreachable' | 'cycle_failed'): void;
}

/** The gateway's metrics: the registry `/metrics` serves, and what each component observes through. */
export interface Metrics {
  registry: Registry;
  runEvents: RunEventsMetrics;
  ws: WsMetrics;
  graphql: GraphQLMetrics;
  sparkPoll: SparkPollMetrics;
}

export interface MetricsOptions {
  /**
   * When a bus message was published (ms since the epoch), for `jobwire_publish_to_delivery_seconds`
   * (EventBus.publishedAt); undefined for values that were not published (snapshots).
   */
  publishedAt?: (event: unknown) => number | undefined;
  /** Node's own metrics (process CPU and memory, heap, event-loop lag, GC) on the same registry. Default true. */
  defaultMetrics?: boolean;
  /** The clock of the delivery latency (ms since the epoch). Default `Date.now`. */
  now?: () => number;
}

/** Seconds, for operations that take about a millisecond (a transaction, a delivery). */
const FAST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds, for a Spark poll cycle (a request to the master, then to drivers and workers). */
const POLL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Builds a registry with every metric of the gateway (the scrape-time gauges are added by {@link registerScrapeGauges}). */
export function makeMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const now = opts.now ?? Date.now;

  const events = new Counter({
    name: 'jobwire_run_events_total',
    help: 'Run events through the one writer, by source (api, local, kafka, spark, scheduler, monitor) and outcome',
    labelNames: ['source', 'outcome'] as const,
    registers,
  });
  const transactions = new Histogram({
    name: 'jobwire_run_apply_duration_seconds',
    help: "Transactions of the one writer of run state, commit and publish included, by operation (batch: a consumer's or poller's batch of events)",
    labelNames: ['operation'] as const,
    buckets: FAST_BUCKETS,
    registers,
  });
  const delivery = new Histogram({
    name: 'jobwire_publish_to_delivery_seconds',
    help: 'From a change published on the event bus (after its commit) to its subscription message written to a WebSocket',
    buckets: FAST_BUCKETS,
    registers,
  });
  const connections = new Gauge({ name: 'jobwire_websocket_connections', help: 'Open GraphQL WebSocket connections', registers });
  const subscriptions = new Gauge({
    name: 'jobwire_websocket_subscriptions',
    help: 'Active GraphQL subscriptions over WebSocket, by root field',
    labelNames: ['field'] as const,
    registers,
  });
  const errors = new Counter({
    name: 'jobwire_graphql_errors_total',
    help: 'GraphQL errors sent to clients (HTTP and WebSocket), by extensions.code',
    labelNames: ['code'] as const,
    registers,
  });
  const requests = new Histogram({
    name: 'jobwire_graphql_request_duration_seconds',
    help: 'GraphQL queries and mutations, from the request to its answer, by transport and operation type',
    labelNames: ['transport', 'operation_type'] as const,
    registers,
  });
  const pollCycles = new Histogram({
    name: 'jobwire_spark_poll_duration_seconds',
    help: 'Spark poller cycles (leader: this replica asked the master; follower cycles only check the lease)',
    labelNames: ['leader'] as const,
    buckets: POLL_BUCKETS,
    registers,
  });
  const pollErrors = new Counter({
    name: 'jobwire_spark_poll_errors_total',
    help: 'Spark poller cycles that could not reach the master or failed',
    labelNames: ['kind'] as const,
    registers,
  });

  return {
    registry,
    runEvents: {
      events: (source, outcome, n = 1) => events.inc({ source, outcome: outcome === 'unknown-run' ? 'unknown_run' : outcome }, n),
      transaction: (operation, seconds) => transactions.observe({ operation }, seconds),
    },
    ws: {
      connectionOpened: () => connections.inc(),
      connectionClosed: () => connections.dec(),
      subscriptionStarted: (field) => subscriptions.inc({ field }),
      subscriptionEnded: (field) => subscriptions.dec({ field }),
      publishedAt: (event) => opts.publishedAt?.(event),
      // Clocks of replicas differ a little: a message seemingly from the future took no time.
      delivered: (at) => delivery.observe(Math.max(0, now() - at) / 1000),
    },
    graphql: {
      error: (code) => errors.inc({ code }),
      request: (transport, operationType, seconds) => requests.observe({ transport, operation_type: operationType }, seconds),
    },
    sparkPoll: {
      cycle: (seconds, leader) => pollCycles.observe({ leader: String(leader) }, seconds),
      error: (kind) => pollErrors.inc({ kind }),
    },
  };
}

/** Seconds since `start` (a `performance.now()` reading). */
export function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}
