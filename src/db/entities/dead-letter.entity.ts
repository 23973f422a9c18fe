import { Entity, Enum, Index, PrimaryKey, Property, Unique, OptionalProps } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { DeadLetterStatus } from '../../domain';

/**
 * A Kafka record that could not be applied (it failed validation, named an unknown run, or kept
 * failing), with why. One row per record: a redelivery of the same record counts in `timesSeen`.
 * `value` is the record as received (it may hold secrets: never returned); `payload` is what the
 * API shows, every secret masked.
 */
@Entity({ tableName: 'dead_letters' })
@Unique({ name: 'dead_letters_record_uniq', properties: ['topic', 'partition', 'offset'] })
@Index({ name: 'dead_letters_status_seen_idx', properties: ['status', 'firstSeenAt', 'id'] })
@Index({ name: 'dead_letters_first_seen_idx', properties: ['firstSeenAt', 'id'] })
@Index({
  name: 'dead_letters_run_idx',
  expression: 'create index "dead_letters_run_idx" on "dead_letters" ("run_id") where "run_id" is not null',
})
export class DeadLetterEntity {
  [OptionalProps]?: 'key' | 'eventId' | 'runId' | 'status' | 'timesSeen';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'text' })
  topic!: string;

  @Property({ type: 'integer' })
  partition!: number;

  @Property({ type: 'bigint' })
  offset!: string;

  @Property({ type: 'text', nullable: true })
  key: string | null = null;

  @Property({ type: 'text', nullable: true })
  eventId: string | null = null;

  @Property({ type: 'uuid', nullable: true })
  runId: string | null = null;

  @Property({ type: 'text' })
  reason!: string;

  /** The record's value as received (text), for a replay. */
  @Property({ type: 'text', nullable: true })
  value: string | null = null;

  /** The record as the API shows it: parsed JSON (or `{ "text": … }`), secrets masked. */
  @Property({ type: 'json' })
  payload!: unknown;

  @Enum({ items: () => DeadLetterStatus, default: DeadLetterStatus.PENDING })
  status: DeadLetterStatus = DeadLetterStatus.PENDING;

  @Property({ type: 'integer', default: 1 })
  timesSeen: number = 1;

  @Property({ columnType: 'timestamptz(3)', type: 'datetime' })
  firstSeenAt!: Date;

  @Property({ columnType: 'timestamptz(3)', type: 'datetime' })
  lastSeenAt!: Date;
}
