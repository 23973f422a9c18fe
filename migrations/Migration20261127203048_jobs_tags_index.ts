import { Migration } from '@mikro-orm/migrations';

export class Migration20261127203048_jobs_tags_index extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create index "jobs_tags_idx" on "jobs" using gin ("tags" jsonb_path_ops);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "jobs_tags_idx";`);
  }

}
