import type { NonEmptyArray } from 'type-graphql';
import type { SchemaParts } from '../src/graphql/schema';
import { DateTimeScalar } from './scalars';
import { MeResolver } from './auth/me.resolver';
import { ComputeResolver } from './job/compute.resolver';
import { JobResolver } from './job/job.resolver';
import { IngestResolver } from './kafka/ingest.resolver';
import { PreflightResolver } from './job/preflight.resolver';
import { RunResolver } from './run/run.resolver';
import { SourceResolver } from './source/source.resolver';
import { StatsResolver } from './stats/stats.resolver';
import { JobStatsUpdatesResolver } from './subscriptions/job-stats-updates.resolver';
import { RunEventsResolver } from './subscriptions/run-events.resolver';
import { RunLogsResolver } from './subscriptions/run-logs.resolver';
import { RunProgressResolver } from './subscriptions/run-progress.resolver';
import { RunUpdatesResolver } from './subscriptions/run-updates.resolver';

/**
 * Every resolver class of the public schema, for `buildSchema`. Each query, mutation and
 * subscription declares the role it needs (`@RequiresRole`, resolvers/common/requires-role.ts); one
 * without is refused to everyone. Every output type is declared with
 * `simpleResolvers: true`: its fields are plain properties of the views the services return, so
 * graphql's default resolver reads them, instead of a type-graphql wrapper (middleware dispatch
 * and an object per field) on every field of every object of every response.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const resolvers: NonEmptyArray<Function> = [
  JobResolver,
  ComputeResolver,
  SourceResolver,
  RunResolver,
  StatsResolver,
  RunUpdatesResolver,
  RunLogsResolver,
  RunEventsResolver,
  RunProgressResolver,
  JobStatsUpdatesResolver,
  IngestResolver,
  PreflightResolver,
  MeResolver,
];

/** What the composition root builds the public schema from (`buildJobwireSchema(schemaParts)`). */
export const schemaParts: SchemaParts = { resolvers, dateScalar: DateTimeScalar };
