import { Migration } from '@mikro-orm/migrations';

export class Migration20261127201007_init extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "applied_events" ("event_id" text not null, "run_id" uuid not null, "applied_at" timestamptz(3) not null, constraint "applied_events_pkey" primary key ("event_id"));`);
    this.addSql(`create index "applied_events_applied_at_idx" on "applied_events" ("applied_at");`);

    this.addSql(`create table "idempotency_keys" ("job_id" uuid not null, "key" text not null, "run_id" uuid not null, "created_at" timestamptz(3) not null, constraint "idempotency_keys_pkey" primary key ("job_id", "key"));`);
    this.addSql(`create index "idempotency_keys_created_at_idx" on "idempotency_keys" ("created_at");`);

    this.addSql(`create table "jobs" ("id" uuid not null, "name" text not null, "description" text null, "tags" jsonb not null, "backend" text check ("backend" in ('LOCAL', 'SPARK', 'KAFKA')) not null default 'LOCAL', "source" jsonb not null, "destination" jsonb not null, "processing" jsonb not null, "compute" jsonb not null, "schedule" jsonb null, "next_run_at" timestamptz(3) null, "max_attempts" int not null, "status" text check ("status" in ('CREATED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED')) not null default 'CREATED', "latest_run_id" uuid null, "run_counter" int not null default 0, "created_at" timestamptz(3) not null, "updated_at" timestamptz(3) not null, constraint "jobs_pkey" primary key ("id"));`);
    this.addSql(`create index "jobs_next_run_at_idx" on "jobs" ("next_run_at") where "next_run_at" is not null;`);
    this.addSql(`create index "jobs_created_at_idx" on "jobs" ("created_at", "id");`);
    this.addSql(`create index "jobs_status_idx" on "jobs" ("status");`);

    this.addSql(`create table "run_logs" ("run_id" uuid not null, "seq" bigint not null, "attempt" int not null, "timestamp" timestamptz(3) not null, "level" text check ("level" in ('DEBUG', 'INFO', 'WARN', 'ERROR')) not null, "message" text not null, "source" text null, constraint "run_logs_pkey" primary key ("run_id", "seq"));`);

    this.addSql(`create table "run_metric_samples" ("id" bigserial primary key, "run_id" uuid not null, "attempt" int not null, "timestamp" timestamptz(3) not null, "records_processed" double precision not null, "records_failed" double precision not null, "throughput_rps" double precision not null, "bytes_processed" double precision not null, "active_workers" int not null, "cpu_utilization" double precision null, "memory_utilization" double precision null);`);
    this.addSql(`create index "run_metric_samples_run_ts_idx" on "run_metric_samples" ("run_id", "timestamp");`);

    this.addSql(`create table "runs" ("id" uuid not null, "job_id" uuid not null, "number" int not null, "attempt" int not null default 1, "max_attempts" int not null, "trigger" text check ("trigger" in ('MANUAL', 'SCHEDULE', 'RETRY', 'API')) not null, "status" text check ("status" in ('PENDING', 'QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLING', 'CANCELLED')) not null default 'PENDING', "backend" text check ("backend" in ('LOCAL', 'SPARK', 'KAFKA')) not null, "external_id" text null, "engine_state" text null, "last_progress_at" timestamptz(3) null, "progress" double precision not null default 0, "metrics" jsonb null, "error" jsonb null, "attempts" jsonb not null, "dead_lettered" boolean not null default false, "next_retry_at" timestamptz(3) null, "lease_owner" text null, "lease_expires_at" timestamptz(3) null, "log_seq" bigint not null default 0, "version" int not null default 0, "queued_at" timestamptz(3) null, "started_at" timestamptz(3) null, "finished_at" timestamptz(3) null, "created_at" timestamptz(3) not null, "updated_at" timestamptz(3) not null, constraint "runs_pkey" primary key ("id"));`);
    this.addSql(`create index "runs_next_retry_idx" on "runs" ("next_retry_at") where "next_retry_at" is not null;`);
    this.addSql(`create index "runs_active_updated_idx" on "runs" ("backend", "updated_at") where "status" in ('PENDING', 'QUEUED', 'RUNNING', 'CANCELLING');`);
    this.addSql(`create index "runs_created_idx" on "runs" ("created_at", "id");`);
    this.addSql(`create index "runs_status_created_idx" on "runs" ("status", "created_at", "id");`);
    this.addSql(`create index "runs_job_created_idx" on "runs" ("job_id", "created_at", "id");`);
    this.addSql(`alter table "runs" add constraint "runs_job_number_uniq" unique ("job_id", "number");`);

    this.addSql(`create table "run_stages" ("run_id" uuid not null, "name" text not null, "position" int not null default 0, "status" text check ("status" in ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'SKIPPED')) not null default 'PENDING', "total_items" int not null default 0, "completed_items" int not null default 0, "failed_items" int not null default 0, "message" text null, "started_at" timestamptz(3) null, "finished_at" timestamptz(3) null, "updated_at" timestamptz(3) not null, constraint "run_stages_pkey" primary key ("run_id", "name"));`);
  }

}
