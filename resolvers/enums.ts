import { registerEnumType } from 'type-graphql';
import { Role } from '../src/auth/roles';
import {
  ClusterMode,
  DataFormat,
  DeadLetterStatus,
  ErrorKind,
  ExecutionBackend,
  InstanceType,
  JobStatus,
  LogLevel,
  ProcessingMode,
  RunStatus,
  RunTrigger,
  SourceType,
  StageStatus,
  StallAction,
} from '../src/domain';

/**
 * Registers every domain enum under its contract name. Imported for its side effect by every type
 * that uses an enum, so the registration happens before any schema is built.
 */
registerEnumType(JobStatus, { name: 'JobStatus', description: 'Derived from the latest run' });
registerEnumType(RunStatus, { name: 'RunStatus' });
registerEnumType(Role, {
  name: 'Role',
  valuesConfig: {
    VIEWER: { description: 'Every query and subscription' },
    OPERATOR: { description: 'Also start, stop and retry runs, compute, connection tests, dead-letter replay and discard' },
    ADMIN: { description: 'Also create, update and delete jobs' },
  },
});
registerEnumType(DeadLetterStatus, {
  name: 'DeadLetterStatus',
  valuesConfig: {
    PENDING: { description: 'Waits for a replay or a discard' },
    REPLAYED: { description: 'Applied by a replay' },
    DISCARDED: { description: 'Set aside by hand' },
  },
});
registerEnumType(RunTrigger, { name: 'RunTrigger' });
registerEnumType(StageStatus, { name: 'StageStatus' });
registerEnumType(LogLevel, { name: 'LogLevel' });
registerEnumType(ErrorKind, { name: 'ErrorKind' });
registerEnumType(ExecutionBackend, {
  name: 'ExecutionBackend',
  valuesConfig: {
    LOCAL: { description: 'In-process executor' },
    SPARK: { description: 'Spark standalone cluster' },
    KAFKA: { description: 'External workers driven by Kafka' },
  },
});
registerEnumType(SourceType, { name: 'SourceType' });
registerEnumType(ProcessingMode, { name: 'ProcessingMode' });
registerEnumType(DataFormat, { name: 'DataFormat' });
registerEnumType(ClusterMode, { name: 'ClusterMode' });
registerEnumType(InstanceType, { name: 'InstanceType' });
registerEnumType(StallAction, {
  name: 'StallAction',
  valuesConfig: {
    NONE: { description: 'Only the flag (Run.stalledSince) and the count in jobStats' },
    STOP: { description: 'Stop the run (CANCELLED)' },
    RETRY: { description: 'Fail the attempt TRANSIENT, so it retries' },
  },
});

export {
  ClusterMode,
  Role,
  DataFormat,
  DeadLetterStatus,
  ErrorKind,
  ExecutionBackend,
  InstanceType,
  JobStatus,
  LogLevel,
  ProcessingMode,
  RunStatus,
  RunTrigger,
  SourceType,
  StageStatus,
  StallAction,
};
