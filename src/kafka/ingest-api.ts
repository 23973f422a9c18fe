import type { IngestApi } from '../api';
import { checkIdempotencyKey } from '../runs/runs.service';
import type { DeadLettersService } from './dead-letters.service';
import type { IngestStatusTracker } from './ingest-status';

/**
 * The API's view of Kafka ingestion: the dead letters (kept in PostgreSQL whether or not this
 * replica consumes) and the consumer group's status (null without Kafka).
 */
export function makeIngestApi(deps: { deadLetters: DeadLettersService; status: Pick<IngestStatusTracker, 'snapshot'> | null }): IngestApi {
  const { deadLetters, status } = deps;
  return {
    deadLetters: (filter, page) => deadLetters.list(filter, page),
    replayDeadLetter: (id, opts = {}) => deadLetters.replay(id, { idempotencyKey: checkIdempotencyKey(opts.idempotencyKey) }),
    discardDeadLetter: (id, opts = {}) => deadLetters.discard(id, { idempotencyKey: checkIdempotencyKey(opts.idempotencyKey) }),
    status: async () => (status ? status.snapshot() : null),
  };
}
