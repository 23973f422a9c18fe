import type { Logger } from '../logger';
import type { CoreEvent } from '../runs/core-events';
import { EventValidationError, parseRunEvent } from '../runs/run-event';
import type { BatchResult, RunEventsService } from '../runs/run-events.service';
import type { DeadLetterInput, DeadLettersService } from './dead-letters.service';

/** A Kafka record as the consumer hands it over. */
export interface KafkaRecord {
  topic: string;
  partition: number;
  /** Decimal string (64-bit offsets). */
  offset: string;
  key: string | null;
  /** The value as text; null for a tombstone. */
  value: string | null;
}

/** What ingesting a batch of records did. */
export interface IngestOutcome {
  applied: number;
  duplicates: number;
  ignored: number;
  /** Records that could not be applied: recorded in PostgreSQL before this resolves. */
  deadLetters: DeadLetterInput[];
}

export interface EventIngestDeps {
  runEvents: Pick<RunEventsService, 'applyBatch'>;
  deadLetters: Pick<DeadLettersService, 'record'>;
  logger: Logger;
}

// node-postgres and PostgreSQL codes of a database that is away (down, restarting, unreachable,
// out of connections): worth waiting for, never a reason to give up on a record.
const TRANSIENT_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);
const TRANSIENT_SQLSTATE = /^(08|53|57P|58|40001|40P01)/;
const TRANSIENT_MESSAGE =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (starting up|shutting down)/i;

/** Whether an error of the database says "try again later" (rather than "this data cannot be stored"). */
export function isTransientDbError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (TRANSIENT_NODE_CODES.has(code) || TRANSIENT_SQLSTATE.test(code)) return true;
  return typeof e?.message === 'string' && TRANSIENT_MESSAGE.test(e.message);
}

/** What happened to one valid record's event. */
type Applied = BatchResult | { outcome: 'failed'; reason: string };

/**
 * Turns Kafka records into run events and applies them, many per transaction: every record is
 * validated with the contract's schema; the valid ones go to the run-event service in one batch;
 * a record that fails validation, names an unknown run, is refused, or cannot be stored becomes a
 * dead letter (recorded before this resolves, so the caller may commit the offsets) — and never
 * holds up its neighbours. A batch the database refuses for its data is split until the record it
 * cannot store is found; a database that is away rejects the whole call (nothing is recorded, the
 * caller retries the same records later).
 */
export class EventIngestService {
  constructor(private readonly deps: EventIngestDeps) {}

  async ingest(records: readonly KafkaRecord[]): Promise<IngestOutcome> {
    const valid: { record: KafkaRecord; event: CoreEvent }[] = [];
    const dead: DeadLetterInput[] = [];
    for (const record of records) {
      const letter = (reason: string, raw?: { eventId?: unknown; runId?: unknown }) =>
        dead.push({
          ...record,
          reason,
          eventId: typeof raw?.eventId === 'string' ? raw.eventId : null,
          runId: typeof raw?.runId === 'string' ? raw.runId : record.key,
        });
      if (record.value === null) {
        letter('a record without a value');
        continue;
      }
      let raw: unknown;
      try {
        raw = JSON.parse(record.value);
      } catch (err) {
        letter(`not JSON: ${(err as Error).message}`);
        continue;
      }
      try {
        valid.push({ record, event: parseRunEvent(raw, { external: true }) });
      } catch (err) {
        if (!(err instanceof EventValidationError)) throw err;
        letter(`invalid: ${err.message}`, raw as { eventId?: unknown; runId?: unknown });
      }
    }
    const results = valid.length ? await this.apply(valid.map((v) => v.event)) : [];
    const outcome: IngestOutcome = { applied: 0, duplicates: 0, ignored: 0, deadLetters: dead };
    results.forEach((r, i) => {
      const { record, event } = valid[i];
      if (r.outcome === 'applied') outcome.applied++;
      else if (r.outcome === 'duplicate') outcome.duplicates++;
      else if (r.outcome === 'ignored') outcome.ignored++;
      else
        dead.push({
          ...record,
          reason: r.outcome === 'unknown-run' ? r.reason : `could not be applied: ${r.reason}`,
          eventId: event.eventId ?? null,
          runId: event.runId,
        });
    });
    await this.deps.deadLetters.record(dead);
    return outcome;
  }

  /** Applies events in one batch; when the database refuses the batch for its data, halves it until the culprit is alone. */
  private async apply(events: CoreEvent[]): Promise<Applied[]> {
    try {
      return await this.deps.runEvents.applyBatch(events);
    } catch (err) {
      if (isTransientDbError(err)) throw err;
      if (events.length === 1) {
        this.deps.logger.warn({ err, runId: events[0].runId, eventId: events[0].eventId }, 'event could not be stored');
        return [{ outcome: 'failed', reason: (err as Error).message }];
      }
      const mid = Math.ceil(events.length / 2);
      return [...(await this.apply(events.slice(0, mid))), ...(await this.apply(events.slice(mid)))];
    }
  }
}
