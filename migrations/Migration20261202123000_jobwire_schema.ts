import { Migration } from '@mikro-orm/migrations';

/**
 * jobwire's tables move from `public` into their own schema `jobwire` (issue 8: a job whose
 * destination was `public.jobs` could insert a forged job). Databases created after this change
 * already have them there (the migrator creates the schema first and every connection's
 * search_path starts with it), so each move happens only where the table is still in `public`.
 * Indexes, constraints and owned sequences move with their table.
 */
const TABLES = [
  'jobs',
  'runs',
  'run_stages',
  'run_logs',
  'run_metric_samples',
  'applied_events',
  'idempotency_keys',
  'dead_letters',
  'engine_log_offsets',
  'worker_leases',
];

export class Migration20261202123000_jobwire_schema extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create schema if not exists "jobwire";`);
    for (const t of TABLES) {
      this.addSql(
        `do $$ begin if to_regclass('public.${t}') is not null and to_regclass('jobwire.${t}') is null then alter table "public"."${t}" set schema "jobwire"; end if; end $$;`,
      );
    }
  }

  override async down(): Promise<void> {
    for (const t of TABLES) this.addSql(`alter table if exists "jobwire"."${t}" set schema "public";`);
  }
}
