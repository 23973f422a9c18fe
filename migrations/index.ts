import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261127201007_init } from './Migration20261127201007_init';
import { Migration20261127203048_jobs_tags_index } from './Migration20261127203048_jobs_tags_index';
import { Migration20261127214802_runs_finished_index } from './Migration20261127214802_runs_finished_index';
import { Migration20261201221447_core_liveness_stall_idempotency } from './Migration20261201221447_core_liveness_stall_idempotency';
import { Migration20261202000350_kafka_dead_letters } from './Migration20261202000350_kafka_dead_letters';
import { Migration20261202044434_spark_poller } from './Migration20261202044434_spark_poller';
import { Migration20261202123000_jobwire_schema } from './Migration20261202123000_jobwire_schema';
import { Migration20261202144437_audit_principals } from './Migration20261202144437_audit_principals';
import { Migration20261202184533_run_event_seq } from './Migration20261202184533_run_event_seq';

/** Every migration, in order. Written by `npm run migration:create`; do not edit by hand. */
export const MIGRATIONS: MigrationObject[] = [
  { name: 'Migration20261127201007_init', class: Migration20261127201007_init },
  { name: 'Migration20261127203048_jobs_tags_index', class: Migration20261127203048_jobs_tags_index },
  { name: 'Migration20261127214802_runs_finished_index', class: Migration20261127214802_runs_finished_index },
  { name: 'Migration20261201221447_core_liveness_stall_idempotency', class: Migration20261201221447_core_liveness_stall_idempotency },
  { name: 'Migration20261202000350_kafka_dead_letters', class: Migration20261202000350_kafka_dead_letters },
  { name: 'Migration20261202044434_spark_poller', class: Migration20261202044434_spark_poller },
  { name: 'Migration20261202123000_jobwire_schema', class: Migration20261202123000_jobwire_schema },
  { name: 'Migration20261202144437_audit_principals', class: Migration20261202144437_audit_principals },
  { name: 'Migration20261202184533_run_event_seq', class: Migration20261202184533_run_event_seq },
];
