import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { RequiresRole, Role } from '../common/requires-role';
import type { JobView } from '../../src/domain';
import type { GraphQLContext } from '../../src/graphql/context';
import { RunStatus } from '../enums';
import { Run } from '../run/run.type';
import { RunConnection } from '../run/run-connection.type';
import { CreateJobInput } from './create-job.input';
import { JobConnection } from './job-connection.type';
import { JobFilter } from './job-filter.input';
import { Job } from './job.type';
import { UpdateJobInput } from './update-job.input';

/** Jobs: queries, the job mutations and Job's run fields. Validation lives in the jobs service. */
@Resolver(() => Job)
export class JobResolver {
  @Query(() => Job, { nullable: true, description: 'Null when no job has that id' })
  @RequiresRole(Role.VIEWER)
  job(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<JobView | null> {
    return ctx.jobs.get(id);
  }

  @Query(() => JobConnection)
  @RequiresRole(Role.VIEWER)
  jobs(
    @Arg('filter', () => JobFilter, { nullable: true }) filter: JobFilter | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.jobs.list(filter, { first, after });
  }

  @Mutation(() => Job, { description: 'Same idempotencyKey within 24 h returns the same job' })
  @RequiresRole(Role.ADMIN)
  createJob(
    @Arg('input', () => CreateJobInput) input: CreateJobInput,
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<JobView> {
    return ctx.jobs.create(input, { idempotencyKey, actor: ctx.principal.subject });
  }

  @Mutation(() => Job)
  @RequiresRole(Role.ADMIN)
  updateJob(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateJobInput) input: UpdateJobInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<JobView> {
    return ctx.jobs.update(id, input);
  }

  @Mutation(() => Boolean, { description: 'Refused (CONFLICT) while a run is active' })
  @RequiresRole(Role.ADMIN)
  deleteJob(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    return ctx.jobs.delete(id);
  }

  @FieldResolver(() => Run, { nullable: true })
  latestRun(@Root() job: JobView, @Ctx() ctx: GraphQLContext) {
    return job.latestRunId ? ctx.loaders.run.load(job.latestRunId) : null;
  }

  @FieldResolver(() => RunConnection)
  runs(
    @Root() job: JobView,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('status', () => RunStatus, { nullable: true }) status: RunStatus | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.runs.list({ jobId: job.id, status }, { first, after });
  }
}
