import { Migration } from '@mikro-orm/migrations';

export class Migration20261202044434_spark_poller extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "engine_log_offsets" ("run_id" uuid not null, "attempt" int not null, "stream" text not null, "offset" bigint not null, "updated_at" timestamptz(3) not null, constraint "engine_log_offsets_pkey" primary key ("run_id", "attempt", "stream"));`);

    this.addSql(`create table "worker_leases" ("name" text not null, "owner" text not null, "expires_at" timestamptz(3) not null, constraint "worker_leases_pkey" primary key ("name"));`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "engine_log_offsets" cascade;`);

    this.addSql(`drop table if exists "worker_leases" cascade;`);
  }

}
