import { BigIntType, Entity, Enum, PrimaryKey, Property, OptionalProps } from '@mikro-orm/core';
import { LogLevel } from '../../domain';

/** A log line of a run. `(run_id, seq)` is the key, the order and the resume cursor. */
@Entity({ tableName: 'run_logs' })
export class LogLineEntity {
  [OptionalProps]?: 'source';

  @PrimaryKey({ type: 'uuid' })
  runId!: string;

  @PrimaryKey({ type: new BigIntType('number') })
  seq!: number;

  @Property({ type: 'integer' })
  attempt!: number;

  @Property({ columnType: 'timestamptz(3)', type: 'datetime' })
  timestamp!: Date;

  @Enum({ items: () => LogLevel })
  level!: LogLevel;

  @Property({ type: 'text' })
  message!: string;

  @Property({ type: 'text', nullable: true })
  source: string | null = null;
}
