import { Entity, Index, PrimaryKey, Property, OptionalProps } from '@mikro-orm/core';

/** `startJob(idempotencyKey)`: the same key for the same job within 24 h returns the same run. */
@Entity({ tableName: 'idempotency_keys' })
@Index({ name: 'idempotency_keys_created_at_idx', properties: ['createdAt'] })
export class IdempotencyKeyEntity {
  [OptionalProps]?: 'createdAt';

  @PrimaryKey({ type: 'uuid' })
  jobId!: string;

  @PrimaryKey({ type: 'text' })
  key!: string;

  @Property({ type: 'uuid' })
  runId!: string;

  @Property({ columnType: 'timestamptz(3)', type: 'datetime' })
  createdAt: Date = new Date();
}
