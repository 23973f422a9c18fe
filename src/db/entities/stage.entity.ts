import { BigIntType, Entity, Enum, PrimaryKey, Property, OptionalProps } from '@mikro-orm/core';
import { StageStatus } from '../../domain';

/** A stage of the current attempt of a run; reset when a new attempt starts. */
@Entity({ tableName: 'run_stages' })
export class StageEntity {
  [OptionalProps]?:
    | 'position'
    | 'status'
    | 'totalItems'
    | 'completedItems'
    | 'failedItems'
    | 'totalIsEstimate'
    | 'progress'
    | 'message'
    | 'startedAt'
    | 'finishedAt'
    | 'updatedAt'
    | 'eventSeq';

  @PrimaryKey({ type: 'uuid' })
  runId!: string;

  @PrimaryKey({ type: 'text' })
  name!: string;

  /** Order of first appearance, so stages list as the work flows. */
  @Property({ type: 'integer' })
  position: number = 0;

  @Enum({ items: () => StageStatus })
  status: StageStatus = StageStatus.PENDING;

  @Property({ type: 'integer' })
  totalItems: number = 0;

  @Property({ type: 'integer' })
  completedItems: number = 0;

  @Property({ type: 'integer' })
  failedItems: number = 0;

  /** `totalItems` is an estimate that may still be corrected. */
  @Property({ type: 'boolean', default: false })
  totalIsEstimate: boolean = false;

  /** 0..1, kept so that it never moves backwards within the attempt (an estimate corrected upwards does not make it regress). */
  @Property({ type: 'double', default: 0 })
  progress: number = 0;

  @Property({ type: 'text', nullable: true })
  message: string | null = null;

  @Property({ columnType: 'timestamptz(3)', type: 'datetime', nullable: true })
  startedAt: Date | null = null;

  @Property({ columnType: 'timestamptz(3)', type: 'datetime', nullable: true })
  finishedAt: Date | null = null;

  @Property({ columnType: 'timestamptz(3)', type: 'datetime' })
  updatedAt: Date = new Date();

  /** The `runEvents` cursor of the stage's current state (its `StageEvent`). */
  @Property({ type: new BigIntType('number'), default: 0 })
  eventSeq: number = 0;
}
