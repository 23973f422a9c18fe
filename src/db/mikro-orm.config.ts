// Used only by the MikroORM CLI (`npm run migration:create`): PostgreSQL at DATABASE_URL.
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { baseOptions } from './orm';

export default {
  ...baseOptions(),
  driver: PostgreSqlDriver,
  // eslint-disable-next-line no-process-env -- CLI only; the gateway reads env in src/config.ts
  clientUrl: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/jobwire_migrations',
};
