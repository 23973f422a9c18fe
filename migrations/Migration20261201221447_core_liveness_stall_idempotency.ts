import { Migration } from '@mikro-orm/migrations';

export class Migration20261201221447_core_liveness_stall_idempotency extends Migration {

  override async up(): Promise<void> {
    // Idempotency keys of every mutation: (scope, key) -> the job or run the first call returned.
    // The keys startJob made so far keep working (scope startJob:<jobId>).
    this.addSql(`alter table "idempotency_keys" drop constraint "idempotency_keys_pkey";`);
    this.addSql(`alter table "idempotency_keys" add column "scope" text null, add column "result_id" uuid null, add column "attempt" int null;`);
    this.addSql(`update "idempotency_keys" set "scope" = 'startJob:' || "job_id", "result_id" = "run_id";`);
    this.addSql(`alter table "idempotency_keys" alter column "scope" set not null, alter column "result_id" set not null;`);
    this.addSql(`alter table "idempotency_keys" drop column "job_id", drop column "run_id";`);
    this.addSql(`alter table "idempotency_keys" add constraint "idempotency_keys_pkey" primary key ("scope", "key");`);

    this.addSql(`alter table "jobs" add column "stall_timeout_seconds" int null, add column "on_stall" text check ("on_stall" in ('NONE', 'STOP', 'RETRY')) not null default 'NONE';`);
    this.addSql(`alter table "jobs" alter column "max_attempts" drop not null;`);

    this.addSql(`drop index "runs_active_updated_idx";`);

    this.addSql(`alter table "runs" add column "stalled_since" timestamptz(3) null, add column "stall_timeout_s" int not null default 300, add column "alive_until" timestamptz(3) null, add column "stall_at" timestamptz(3) null;`);
    // Deadlines of the runs active now, as the new liveness rules would have set them.
    this.addSql(`update "runs" set "alive_until" = case
        when "backend" = 'LOCAL' and "status" in ('RUNNING', 'CANCELLING') then coalesce("lease_expires_at", now())
        when "backend" = 'LOCAL' then null
        else "updated_at" + interval '5 minutes' end
      where "status" in ('PENDING', 'QUEUED', 'RUNNING', 'CANCELLING');`);
    this.addSql(`update "runs" set "stall_at" = coalesce("last_progress_at", "started_at", "updated_at") + interval '300 seconds' where "status" = 'RUNNING';`);
    this.addSql(`create index "runs_local_queue_idx" on "runs" ("queued_at", "created_at") where "status" = 'QUEUED' and "backend" = 'LOCAL' and "lease_owner" is null;`);
    this.addSql(`create index "runs_stalled_idx" on "runs" ("stalled_since") where "stalled_since" is not null;`);
    this.addSql(`create index "runs_stall_at_idx" on "runs" ("stall_at") where "stall_at" is not null;`);
    this.addSql(`create index "runs_alive_until_idx" on "runs" ("alive_until") where "alive_until" is not null;`);

    this.addSql(`alter table "run_stages" add column "total_is_estimate" boolean not null default false, add column "progress" double precision not null default 0;`);
    this.addSql(`update "run_stages" set "progress" = case
        when "status" in ('COMPLETED', 'SKIPPED') then 1
        when "total_items" > 0 then least(0.99, ("completed_items" + "failed_items")::float8 / "total_items")
        else 0 end;`);
  }

  override async down(): Promise<void> {
    // Only startJob's keys fit the old table; the others are dropped.
    this.addSql(`delete from "idempotency_keys" where "scope" not like 'startJob:%';`);
    this.addSql(`alter table "idempotency_keys" drop constraint "idempotency_keys_pkey";`);
    this.addSql(`alter table "idempotency_keys" add column "job_id" uuid null, add column "run_id" uuid null;`);
    this.addSql(`update "idempotency_keys" set "job_id" = substr("scope", 10)::uuid, "run_id" = "result_id";`);
    this.addSql(`alter table "idempotency_keys" drop column "scope", drop column "result_id", drop column "attempt";`);
    this.addSql(`alter table "idempotency_keys" alter column "job_id" set not null, alter column "run_id" set not null;`);
    this.addSql(`alter table "idempotency_keys" add constraint "idempotency_keys_pkey" primary key ("job_id", "key");`);

    this.addSql(`alter table "jobs" drop column "stall_timeout_seconds", drop column "on_stall";`);

    this.addSql(`update "jobs" set "max_attempts" = 3 where "max_attempts" is null;`);
    this.addSql(`alter table "jobs" alter column "max_attempts" set not null;`);

    this.addSql(`drop index "runs_local_queue_idx";`);
    this.addSql(`drop index "runs_stalled_idx";`);
    this.addSql(`drop index "runs_stall_at_idx";`);
    this.addSql(`drop index "runs_alive_until_idx";`);
    this.addSql(`alter table "runs" drop column "stalled_since", drop column "stall_timeout_s", drop column "alive_until", drop column "stall_at";`);

    this.addSql(`create index "runs_active_updated_idx" on "runs" ("backend", "updated_at") where "status" in ('PENDING', 'QUEUED', 'RUNNING', 'CANCELLING');`);

    this.addSql(`alter table "run_stages" drop column "total_is_estimate", drop column "progress";`);
  }

}
