/**
 * Ingestion engine of the LOCAL executor: reads a source (local files, HTTP), parses CSV / JSON /
 * NDJSON as a stream, infers column types, creates the destination table when missing and bulk-loads
 * rows in batches through a {@link LoadSink}. Knows nothing of runs, GraphQL or the ORM.
 *
 * Exported here: what the executor, the composition root and the bench use. The modules export more,
 * for the engine itself and its unit tests (src/jobs reaches a few directly for connection tests and
 * validation).
 */
export { ingest } from './ingest';
export type { LogLevel, IngestSpec, StageUpdate, IngestStats, IngestResult } from './types';
export { IngestError } from './errors';
export { makePgSink, makePgliteSink, type LoadSink, type PgSinkOptions } from './sinks';
