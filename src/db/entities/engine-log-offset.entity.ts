import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * How far a run's engine log (a Spark driver's stderr or stdout, read from its worker) has been
 * read into `log_lines`, per attempt and stream: the poller resumes there, also on another replica,
 * so no line is stored twice and none is skipped. Deleted with the run.
 */
@Entity({ tableName: 'engine_log_offsets' })
export class EngineLogOffsetEntity {
  @PrimaryKey({ type: 'uuid' })
  runId!: string;

  @PrimaryKey({ type: 'integer' })
  attempt!: number;

  @PrimaryKey({ type: 'text' })
  stream!: string;

  /** Bytes of the stream already read. */
  @Property({ type: 'bigint' })
  offset!: string;

  @Property({ columnType: 'timestamptz(3)', type: 'datetime' })
  updatedAt!: Date;
}
