import { Migration } from '@mikro-orm/migrations';

export class Migration20261127214802_runs_finished_index extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create index "runs_finished_idx" on "runs" ("finished_at") where "status" in ('SUCCEEDED', 'FAILED', 'CANCELLED');`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "runs_finished_idx";`);
  }

}
