import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { RequiresRole, Role } from '../common/requires-role';
import type { JobView, MetricsView, RunView } from '../../src/domain';
import { notFound } from '../../src/errors';
import type { GraphQLContext } from '../../src/graphql/context';
import { LogLevel } from '../enums';
import { Job } from '../job/job.type';
import { DateTimeScalar } from '../scalars';
import { LogConnection } from './log-connection.type';
import { RunMetrics } from './run-metrics.type';
import { RunConnection } from './run-connection.type';
import { RunFilter } from './run-filter.input';
import { Run } from './run.type';

/** Runs: queries, start/stop/retry, and Run's `job` and `metricsHistory` (batched per request), `logs` and `estimatedFinishAt` fields. */
@Resolver(() => Run)
export class RunResolver {
  @Query(() => Run, { nullable: true, description: 'Null when no run has that id' })
  @RequiresRole(Role.VIEWER)
  run(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<RunView | null> {
    return ctx.runs.get(id);
  }

  @Query(() => RunConnection)
  @RequiresRole(Role.VIEWER)
  runs(
    @Arg('filter', () => RunFilter, { nullable: true }) filter: RunFilter | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.runs.list(filter, { first, after });
  }

  @Mutation(() => Run, {
    description: 'Same idempotencyKey within 24 h returns the same run; UNAVAILABLE when the backend is not configured',
  })
  @RequiresRole(Role.OPERATOR)
  startJob(
    @Arg('id', () => ID) id: string,
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<RunView> {
    return ctx.runs.start(id, { idempotencyKey, actor: ctx.principal.subject });
  }

  @Mutation(() => Run, { description: 'Cancels on the backend; force marks it CANCELLED at once' })
  @RequiresRole(Role.OPERATOR)
  stopRun(
    @Arg('id', () => ID) id: string,
    @Arg('force', () => Boolean, { nullable: true, defaultValue: false }) force: boolean | null,
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<RunView> {
    return ctx.runs.stop(id, force ?? false, { idempotencyKey, actor: ctx.principal.subject });
  }

  @Mutation(() => Run, { description: 'Manual retry of a FAILED run (dead-lettered ones too); same idempotencyKey → same attempt' })
  @RequiresRole(Role.OPERATOR)
  retryRun(
    @Arg('id', () => ID) id: string,
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<RunView> {
    return ctx.runs.retry(id, { idempotencyKey, actor: ctx.principal.subject });
  }

  @FieldResolver(() => Job)
  async job(@Root() run: RunView, @Ctx() ctx: GraphQLContext): Promise<JobView> {
    const job = await ctx.loaders.job.load(run.jobId);
    if (!job) throw notFound('Job', run.jobId);
    return job;
  }

  @FieldResolver(() => LogConnection)
  logs(
    @Root() run: RunView,
    @Arg('first', () => Int, { nullable: true, defaultValue: 100 }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('minLevel', () => LogLevel, { nullable: true, defaultValue: LogLevel.DEBUG }) minLevel: LogLevel | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.runs.logs(run.id, { first, after, minLevel });
  }

  @FieldResolver(() => [RunMetrics], {
    description: 'Samples of the current attempt taken at or after `since`, oldest first, at most `first` (1..5000)',
  })
  metricsHistory(
    @Root() run: RunView,
    @Arg('since', () => DateTimeScalar, { nullable: true }) since: Date | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 600 }) first: number | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<MetricsView[]> {
    return ctx.loaders.metricsHistory.load({ runId: run.id, since: since ?? null, first });
  }

  @FieldResolver(() => DateTimeScalar, {
    nullable: true,
    description: "When the run should finish, from its stages' remaining items and recent throughput; null unless RUNNING and known",
  })
  estimatedFinishAt(@Root() run: RunView, @Ctx() ctx: GraphQLContext): string | null {
    return ctx.runs.estimatedFinishAt(run);
  }
}
