import { BigIntType, Entity, Index, PrimaryKey, Property, OptionalProps } from '@mikro-orm/core';

/** One metric sample of a run; the latest is also kept on the run itself. */
@Entity({ tableName: 'run_metric_samples' })
@Index({ name: 'run_metric_samples_run_ts_idx', properties: ['runId', 'timestamp'] })
export class MetricSampleEntity {
  [OptionalProps]?: 'id' | 'cpuUtilization' | 'memoryUtilization';

  @PrimaryKey({ type: new BigIntType('number'), autoincrement: true })
  id!: number;

  @Property({ type: 'uuid' })
  runId!: string;

  @Property({ type: 'integer' })
  attempt!: number;

  @Property({ columnType: 'timestamptz(3)', type: 'datetime' })
  timestamp!: Date;

  @Property({ type: 'double' })
  recordsProcessed!: number;

  @Property({ type: 'double' })
  recordsFailed!: number;

  @Property({ type: 'double' })
  throughputRps!: number;

  @Property({ type: 'double' })
  bytesProcessed!: number;

  @Property({ type: 'integer' })
  activeWorkers!: number;

  @Property({ type: 'double', nullable: true })
  cpuUtilization: number | null = null;

  @Property({ type: 'double', nullable: true })
  memoryUtilization: number | null = null;
}
