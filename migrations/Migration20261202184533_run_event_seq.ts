import { Migration } from '@mikro-orm/migrations';

export class Migration20261202184533_run_event_seq extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "jobwire"."run_logs" add column "event_seq" bigint null;`);

    this.addSql(`alter table "jobwire"."runs" add column "event_seq" bigint not null default 0, add column "state_seq" bigint not null default 0, add column "metrics_seq" bigint not null default 0;`);

    this.addSql(`alter table "jobwire"."run_stages" add column "event_seq" bigint not null default 0;`);

    // Runs that exist already get cursors above their log lines' (whose cursor is their seq), laid
    // out as the writer lays out a batch: the state, the metrics, then each stage.
    this.addSql(`update "jobwire"."runs" r set state_seq = r.log_seq + 1,
      metrics_seq = case when r.metrics is not null then r.log_seq + 2 else 0 end,
      event_seq = r.log_seq + 1 + (case when r.metrics is not null then 1 else 0 end)
        + (select count(*) from "jobwire"."run_stages" s where s.run_id = r.id);`);
    this.addSql(`update "jobwire"."run_stages" s set event_seq = r.log_seq + 1 + (case when r.metrics is not null then 1 else 0 end) + x.n
      from "jobwire"."runs" r,
        (select run_id, name, row_number() over (partition by run_id order by position, name) as n from "jobwire"."run_stages") x
      where r.id = s.run_id and x.run_id = s.run_id and x.name = s.name;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "jobwire"."run_logs" drop column "event_seq";`);

    this.addSql(`alter table "jobwire"."runs" drop column "event_seq", drop column "state_seq", drop column "metrics_seq";`);

    this.addSql(`alter table "jobwire"."run_stages" drop column "event_seq";`);
  }

}
