import { Entity, Index, PrimaryKey, Property, OptionalProps } from '@mikro-orm/core';

/** Event ids already applied: the dedupe record that makes at-least-once delivery safe. */
@Entity({ tableName: 'applied_events' })
// Rows arrive in applied_at order and leave by age (prune): a BRIN index answers that at a fraction
// of a btree's cost per insert, which every event with an id pays.
@Index({
  name: 'applied_events_applied_at_idx',
  expression: 'create index "applied_events_applied_at_idx" on "applied_events" using brin ("applied_at")',
})
export class AppliedEventEntity {
  [OptionalProps]?: 'appliedAt';

  @PrimaryKey({ type: 'text' })
  eventId!: string;

  @Property({ type: 'uuid' })
  runId!: string;

  @Property({ columnType: 'timestamptz(3)', type: 'datetime' })
  appliedAt: Date = new Date();
}
