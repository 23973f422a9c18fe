import { Migration } from '@mikro-orm/migrations';

export class Migration20261202000350_kafka_dead_letters extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "dead_letters" ("id" uuid not null, "topic" text not null, "partition" int not null, "offset" bigint not null, "key" text null, "event_id" text null, "run_id" uuid null, "reason" text not null, "value" text null, "payload" jsonb not null, "status" text check ("status" in ('PENDING', 'REPLAYED', 'DISCARDED')) not null default 'PENDING', "times_seen" int not null default 1, "first_seen_at" timestamptz(3) not null, "last_seen_at" timestamptz(3) not null, constraint "dead_letters_pkey" primary key ("id"));`);
    this.addSql(`create index "dead_letters_run_idx" on "dead_letters" ("run_id") where "run_id" is not null;`);
    this.addSql(`create index "dead_letters_first_seen_idx" on "dead_letters" ("first_seen_at", "id");`);
    this.addSql(`create index "dead_letters_status_seen_idx" on "dead_letters" ("status", "first_seen_at", "id");`);
    this.addSql(`alter table "dead_letters" add constraint "dead_letters_record_uniq" unique ("topic", "partition", "offset");`);

    // Event ids arrive in applied_at order and leave by age: BRIN instead of a btree (cheap inserts).
    this.addSql(`drop index "applied_events_applied_at_idx";`);
    this.addSql(`create index "applied_events_applied_at_idx" on "applied_events" using brin ("applied_at");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "dead_letters" cascade;`);
    this.addSql(`drop index "applied_events_applied_at_idx";`);
    this.addSql(`create index "applied_events_applied_at_idx" on "applied_events" ("applied_at");`);
  }

}
