/**
 * Run events: the one vocabulary in which every change to a run is expressed, whatever its source
 * (Kafka, the Spark poller, the LOCAL executor, mutations, the scheduler, the stuck monitor).
 * The public types are the Kafka contract (docs/events.md); `run.retry` and `run.cancel` are
 * issued by jobwire itself. Schemas, types and parsing live with the rest of the contract in
 * src/events/run-event.schema.ts; this module keeps the names the run services import.
 */
export { EXTERNAL_EVENT_TYPES, INTERNAL_EVENT_TYPES, EventValidationError, parseRunEvent } from '../events/run-event.schema';
export type {
  AnyRunEvent,
  CancelPayload,
  HeartbeatEvent,
  HeartbeatPayload,
  LogInput,
  LogPayload,
  MetricsPayload,
  RetryPayload,
  RunEvent,
  RunEventType,
  StagePayload,
  StatusPayload,
} from '../events/run-event.schema';
