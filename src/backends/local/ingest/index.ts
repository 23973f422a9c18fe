/**
 * Ingestion engine of the LOCAL executor: reads a source (local files, HTTP), parses CSV / JSON /
 * NDJSON as a stream, infers column types, creates the destination table when missing and bulk-loads
 * rows in batches through a {@link LoadSink}. Knows nothing of runs, GraphQL or the ORM.
 */
export { ingest, MAX_SAMPLE_ROWS, EARLY_RATIO_MIN_ROWS } from './ingest';
export type {
  SourceType,
  DataFormat,
  StageName,
  StageState,
  LogLevel,
  IngestSpec,
  StageUpdate,
  IngestStats,
  IngestHooks,
  IngestResult,
} from './types';
export { IngestError, type IngestErrorKind } from './errors';
export { makePgSink, makePgliteSink, encodeCopyText, escapeCopyValue, type LoadSink } from './sinks';
export { formatFromExtension, sniffFormat, looksBinary, resolveFormat, PARQUET_UNSUPPORTED, type ConcreteFormat } from './formats';
export { classifyText, classifyJsonValue, joinKinds, sqlTypeOfKind, kindOfPgType, TypeInferrer, type InferredType } from './infer';
export { sanitizeIdentifier, sanitizeColumnNames, quoteIdent, quoteDestination, isValidObjectName } from './identifiers';
export { matchGlob, matchSegment, expandGlob, hasGlobChars } from './glob';
export { redactUrl } from './sources';
