import { Migration } from '@mikro-orm/migrations';

export class Migration20261202144437_audit_principals extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "jobwire"."jobs" add column "created_by" text null;`);

    this.addSql(`alter table "jobwire"."runs" add column "stopped_by" text null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "jobwire"."jobs" drop column "created_by";`);

    this.addSql(`alter table "jobwire"."runs" drop column "stopped_by";`);
  }

}
