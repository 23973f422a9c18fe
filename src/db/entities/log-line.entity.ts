import { BigIntType, Entity, Enum, PrimaryKey, Property, OptionalProps } from '@mikro-orm/core';
import { LogLevel } from '../../domain';

/** A log line of a run. `(run_id, seq)` is the key, the order and the resume cursor. */
@Entity({ tableName: 'run_logs' })
export class LogLineEntity {
  [OptionalProps]?: 'source' | 'eventSeq';

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

  /**
   * The line's `runEvents` cursor. It grows with `seq` (both are handed out under the run's lock, in
   * order), which is how a cursor is found among the lines without an index of its own (see
   * src/runs/run-event-queries.ts). Null on lines written before cursors existed: their cursor is their `seq`.
   */
  @Property({ type: new BigIntType('number'), nullable: true })
  eventSeq: number | null = null;
}
