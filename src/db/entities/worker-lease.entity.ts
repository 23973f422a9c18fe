import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * Who does a job that one replica at a time must do (the Spark poller: one request to the master
 * per cycle for every replica), until when. A replica takes the lease when it is free or expired,
 * and renews it each cycle; a replica that dies loses it within its time to live.
 */
@Entity({ tableName: 'worker_leases' })
export class WorkerLeaseEntity {
  @PrimaryKey({ type: 'text' })
  name!: string;

  @Property({ type: 'text' })
  owner!: string;

  @Property({ columnType: 'timestamptz(3)', type: 'datetime' })
  expiresAt!: Date;
}
