import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261127201007_init } from './Migration20261127201007_init';

/** Every migration, in order. Written by `npm run migration:create`; do not edit by hand. */
export const MIGRATIONS: MigrationObject[] = [
  { name: 'Migration20261127201007_init', class: Migration20261127201007_init },
];
