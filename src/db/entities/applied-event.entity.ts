import { Entity, Index, PrimaryKey, Property, OptionalProps } from '@mikro-orm/core';

/** Event ids already applied: the dedupe record that makes at-least-once delivery safe. */
@Entity({ tableName: 'applied_events' })
@Index({ name: 'applied_events_applied_at_idx', properties: ['appliedAt'] })
export class AppliedEventEntity {
  [OptionalProps]?: 'appliedAt';

  @PrimaryKey({ type: 'text' })
  eventId!: string;

  @Property({ type: 'uuid' })
  runId!: string;

  @Property({ columnType: 'timestamptz(3)', type: 'datetime' })
  appliedAt: Date = new Date();
}
