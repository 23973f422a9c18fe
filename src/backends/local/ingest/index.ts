/**
 * Ingestion engine of the LOCAL executor: reads a source (local files, HTTP), parses CSV / JSON /
 * NDJSON as a stream, infers column types, creates the destination table when missing and bulk-loads
 * rows in batches through a {@link LoadSink}. Knows nothing of runs, GraphQL or the ORM.
 *
 * Only what code outside the engine imports is exported here; the modules export more for the
 * engine's own use and its unit tests.
 */
export { ingest } from './ingest';
export type { LogLevel, IngestSpec, StageUpdate, IngestStats, IngestResult } from './types';
export { IngestError } from './errors';
export { makePgSink, makePgliteSink, type LoadSink } from './sinks';
