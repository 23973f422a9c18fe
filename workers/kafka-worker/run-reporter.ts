import crypto from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { StageStatus, type LogLevel } from '../../src/domain';
import { coerceError } from '../../src/errors';
import type { StageUpdate } from '../../src/backends/local/ingest';
import { MAX_MESSAGE_LENGTH } from '../../src/events/run-event.schema';
import type { LogInput, MetricsPayload, StagePayload, StatusPayload } from '../../src/events/run-event.schema';
import type { Logger } from '../../src/logger';
import { scrub } from './secrets';

/** How often what was reported goes out, in ms: at most this many stage updates per stage and second, 1000 / FLUSH_MS. */
export const FLUSH_MS = 250;
/** Most log lines in one `run.log` event, and about the most bytes of their messages (records stay well under Kafka's 1 MB). */
const MAX_LINES_PER_EVENT = 500;
const MAX_LINE_BYTES_PER_EVENT = 256 * 1024;
/** Most log lines held while the broker is unreachable; older ones are dropped (and counted). */
const MAX_BUFFERED_LINES = 20_000;
/** Tries at producing the final status before leaving the run to jobwire's stuck monitor. */
const FINAL_TRIES = 4;

/** Records for one `producer.sendBatch`: every message keyed by the runId. */
export type TopicMessages = { topic: string; messages: { key: string; value: string }[] }[];

/** An event as it goes on the wire (docs/events.md): a fresh `eventId`, the command's `attempt`. */
interface WireEvent {
  eventId: string;
  runId: string;
  attempt: number;
  type: 'run.status' | 'stage.progress' | 'run.metrics' | 'run.log' | 'run.heartbeat';
  occurredAt: string;
  producer: string;
  payload: object;
}

export interface RunReporterOptions {
  /** Produces the records (acks all) and resolves once the broker has them; rejects when it could not. */
  send(records: TopicMessages): Promise<void>;
  topics: { runEvents: string; runLogs: string };
  runId: string;
  attempt: number;
  /** Every event's `producer`: the worker id. */
  producer: string;
  /** A `run.heartbeat` this often while the run executes, in ms. */
  heartbeatMs: number;
  /** Strings scrubbed from every message reported (the job's secrets). */
  secrets: readonly string[];
  logger: Logger;
}

const clip = (text: string) => (text.length > MAX_MESSAGE_LENGTH ? `${text.slice(0, MAX_MESSAGE_LENGTH - 1)}…` : text);

/**
 * Reports one run to Kafka, in order, without flooding the topics: what was reported in the last
 * {@link FLUSH_MS} goes out as one `sendBatch` (events on the events topic, log lines batched on the
 * logs topic), with at most one send in flight, so the run's events reach its partition in the order
 * they happened. Stage updates coalesce to the latest per stage (their counts are absolute, nothing
 * is lost), a metrics sample replaces the one not yet sent, at most one heartbeat waits, and log
 * lines queue (bounded: the oldest are shed and counted while the broker is away). A failed send is
 * logged and its events go out again with the next one, with the same `eventId`s, so jobwire applies
 * them once.
 */
export class KafkaRunReporter {
  /** Events that keep their order and are never coalesced: statuses, a heartbeat. */
  private ordered: WireEvent[] = [];
  private stages = new Map<string, WireEvent>();
  private metricsSample: WireEvent | null = null;
  private lines: LogInput[] = [];
  /** `run.log` events of a send that failed, to go out again as they were. */
  private unsentLogs: WireEvent[] = [];
  private droppedLines = 0;
  private inFlight: Promise<void> | null = null;
  private ended = false;
  private readonly timers: NodeJS.Timeout[];

  constructor(private readonly opts: RunReporterOptions) {
    this.timers = [setInterval(() => void this.flush(), FLUSH_MS), setInterval(() => this.heartbeat(), opts.heartbeatMs)];
  }

  /** Reports a status change (RUNNING); sent before anything reported after it. */
  status(payload: StatusPayload): void {
    if (!this.ended) this.ordered.push(this.event('run.status', this.scrubStatus(payload)));
  }

  /** Records a stage update of the ingest; sent soon, superseding any unsent one of that stage. */
  stage(u: StageUpdate): void {
    if (this.ended) return;
    const payload: StagePayload = {
      stage: u.stage,
      status: u.status as StageStatus,
      totalItems: u.totalItems,
      completedItems: u.completedItems,
      failedItems: u.failedItems,
      totalIsEstimate: u.totalIsEstimate,
      ...(u.message !== undefined ? { message: clip(scrub(u.message, this.opts.secrets)) } : {}),
    };
    this.stages.set(u.stage, this.event('stage.progress', payload));
  }

  /** Buffers a log line (source `worker`); its secrets are scrubbed. */
  log(level: LogLevel | `${LogLevel}`, message: string): void {
    if (this.ended) return;
    this.lines.push({
      level: level as LogLevel,
      message: clip(scrub(message, this.opts.secrets)) || '(empty)',
      source: 'worker',
      timestamp: new Date().toISOString(),
    });
    if (this.lines.length > MAX_BUFFERED_LINES) {
      const excess = this.lines.length - MAX_BUFFERED_LINES;
      this.lines.splice(0, excess);
      this.droppedLines += excess;
    }
  }

  /** A metrics sample; sent with the next batch (a newer one replaces it). */
  metrics(sample: MetricsPayload): void {
    if (!this.ended) this.metricsSample = this.event('run.metrics', sample);
  }

  /**
   * Ends reporting: stops the timers, waits for the send in flight, then sends what is still
   * unsent, `finalMetrics`, and `final` last, in one batch — so jobwire sees the final counts before
   * the final status. Tries a few times (with back-off); resolves false when the broker never took
   * it (jobwire's stuck monitor then notices the silence and retries the run). Never rejects.
   */
  async finish(final: StatusPayload, finalMetrics?: MetricsPayload): Promise<boolean> {
    if (finalMetrics) this.metrics(finalMetrics);
    this.status(final);
    this.stop();
    await this.inFlight;
    const { records } = this.drain();
    for (let i = 1; ; i++) {
      try {
        await this.opts.send(records);
        return true;
      } catch (err) {
        const e = coerceError(err);
        if (i >= FINAL_TRIES) {
          this.warn(e, `final status ${final.status} not produced after ${i} tries`);
          return false;
        }
        this.warn(e, `producing the final status ${final.status} failed (try ${i})`);
        await sleep(250 * 2 ** i);
      }
    }
  }

  /** Stops without sending anything more (the run was superseded by a newer attempt). */
  discard(): void {
    this.stop();
    this.ordered = [];
    this.stages.clear();
    this.metricsSample = null;
    this.lines = [];
    this.unsentLogs = [];
  }

  private stop() {
    this.ended = true;
    for (const t of this.timers) clearInterval(t);
  }

  private heartbeat() {
    // One waiting heartbeat says as much as several.
    if (!this.ended && !this.ordered.some((e) => e.type === 'run.heartbeat')) this.ordered.push(this.event('run.heartbeat', {}));
  }

  private flush(): Promise<void> {
    if (this.inFlight || this.ended) return this.inFlight ?? Promise.resolve();
    const stages = new Map(this.stages);
    const metrics = this.metricsSample;
    const { ordered, logs, records } = this.drain();
    if (records.length === 0) return Promise.resolve();
    this.inFlight = this.opts
      .send(records)
      .catch((err) => {
        this.warn(coerceError(err), 'progress not produced; it goes out with the next batch');
        // Put back what no newer report replaced, ahead of anything newer, as it was (same eventIds).
        this.ordered.unshift(...ordered);
        for (const [name, e] of stages) if (!this.stages.has(name)) this.stages.set(name, e);
        this.metricsSample ??= metrics;
        this.unsentLogs.unshift(...logs);
      })
      .finally(() => (this.inFlight = null));
    return this.inFlight;
  }

  /** Everything unsent, as records in the order jobwire should see it, and the events taken. */
  private drain(): { ordered: WireEvent[]; logs: WireEvent[]; records: TopicMessages } {
    const ordered = this.ordered;
    const events = [...ordered];
    // A final status goes after the last progress and metrics; RUNNING and heartbeats before them.
    const final = events.length && this.isFinal(events.at(-1)!) ? events.pop()! : null;
    events.push(...this.stages.values());
    if (this.metricsSample) events.push(this.metricsSample);
    if (final) events.push(final);
    this.ordered = [];
    this.stages.clear();
    this.metricsSample = null;
    const logs = [...this.unsentLogs, ...this.drainLines().map((lines) => this.event('run.log', { lines }))];
    this.unsentLogs = [];
    const key = this.opts.runId;
    const records: TopicMessages = [];
    if (events.length)
      records.push({ topic: this.opts.topics.runEvents, messages: events.map((e) => ({ key, value: JSON.stringify(e) })) });
    if (logs.length) records.push({ topic: this.opts.topics.runLogs, messages: logs.map((e) => ({ key, value: JSON.stringify(e) })) });
    return { ordered, logs, records };
  }

  /** The buffered lines in chunks of at most {@link MAX_LINES_PER_EVENT} lines and about {@link MAX_LINE_BYTES_PER_EVENT} bytes. */
  private drainLines(): LogInput[][] {
    const lines = this.lines;
    this.lines = [];
    if (this.droppedLines) {
      lines.unshift({
        level: 'WARN' as LogLevel,
        message: `${this.droppedLines} log lines dropped: Kafka could not keep up`,
        source: 'worker',
      });
      this.droppedLines = 0;
    }
    const chunks: LogInput[][] = [];
    let chunk: LogInput[] = [];
    let bytes = 0;
    for (const line of lines) {
      if (chunk.length && (chunk.length >= MAX_LINES_PER_EVENT || bytes + line.message.length > MAX_LINE_BYTES_PER_EVENT)) {
        chunks.push(chunk);
        chunk = [];
        bytes = 0;
      }
      chunk.push(line);
      bytes += line.message.length;
    }
    if (chunk.length) chunks.push(chunk);
    return chunks;
  }

  private isFinal(e: WireEvent): boolean {
    return e.type === 'run.status' && (e.payload as StatusPayload).status !== 'RUNNING';
  }

  private scrubStatus(p: StatusPayload): StatusPayload {
    const s = (t: string) => clip(scrub(t, this.opts.secrets));
    return {
      ...p,
      ...(p.message !== undefined ? { message: s(p.message) } : {}),
      ...(p.error
        ? { error: { ...p.error, message: s(p.error.message), details: p.error.details === null ? null : s(p.error.details) } }
        : {}),
    };
  }

  private event(type: WireEvent['type'], payload: object): WireEvent {
    const { runId, attempt, producer } = this.opts;
    return { eventId: crypto.randomUUID(), runId, attempt, type, occurredAt: new Date().toISOString(), producer, payload };
  }

  private warn(err: Error, what: string) {
    const { runId, attempt } = this.opts;
    this.opts.logger.warn({ err, runId, attempt }, `kafka worker: run ${runId}: ${what}: ${err.message}`);
  }
}
