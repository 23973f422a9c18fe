import { Entity, Index, PrimaryKey, Property, OptionalProps } from '@mikro-orm/core';

/**
 * An idempotency key of a mutation: the same key in the same scope within 24 h returns what the
 * first call made and does nothing again. Scopes: `createJob`, `startJob:<jobId>`, `stopRun:<runId>`,
 * `retryRun:<runId>`; `resultId` is the job or run the first call returned.
 */
@Entity({ tableName: 'idempotency_keys' })
@Index({ name: 'idempotency_keys_created_at_idx', properties: ['createdAt'] })
export class IdempotencyKeyEntity {
  [OptionalProps]?: 'createdAt';

  @PrimaryKey({ type: 'text' })
  scope!: string;

  @PrimaryKey({ type: 'text' })
  key!: string;

  @Property({ type: 'uuid' })
  resultId!: string;

  /** For `retryRun`: the attempt the first call started (a later call with the key returns that run). */
  @Property({ type: 'integer', nullable: true })
  attempt: number | null = null;

  @Property({ columnType: 'timestamptz(3)', type: 'datetime' })
  createdAt: Date = new Date();
}
