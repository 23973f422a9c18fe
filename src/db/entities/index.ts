import { AppliedEventEntity } from './applied-event.entity';
import { DeadLetterEntity } from './dead-letter.entity';
import { IdempotencyKeyEntity } from './idempotency-key.entity';
import { JobEntity } from './job.entity';
import { LogLineEntity } from './log-line.entity';
import { MetricSampleEntity } from './metric-sample.entity';
import { RunEntity } from './run.entity';
import { StageEntity } from './stage.entity';
import { WorkerLeaseEntity } from './worker-lease.entity';
import { EngineLogOffsetEntity } from './engine-log-offset.entity';

export {
  AppliedEventEntity,
  DeadLetterEntity,
  EngineLogOffsetEntity,
  WorkerLeaseEntity,
  IdempotencyKeyEntity,
  JobEntity,
  LogLineEntity,
  MetricSampleEntity,
  RunEntity,
  StageEntity,
};
export const ENTITIES = [
  JobEntity,
  RunEntity,
  StageEntity,
  LogLineEntity,
  MetricSampleEntity,
  AppliedEventEntity,
  IdempotencyKeyEntity,
  DeadLetterEntity,
  WorkerLeaseEntity,
  EngineLogOffsetEntity,
];
