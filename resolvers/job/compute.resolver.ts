import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { RequiresRole, Role } from '../common/requires-role';
import type { ComputePresetView } from '../../src/api';
import type { JobView } from '../../src/domain';
import type { GraphQLContext } from '../../src/graphql/context';
import { ComputeConfigInput } from './compute-config.input';
import { ComputePreset } from './compute-preset.type';
import { Job } from './job.type';

/** Compute tuning: presets and the two compute mutations (refused with CONFLICT while a run is active). */
@Resolver()
export class ComputeResolver {
  @Query(() => [ComputePreset])
  @RequiresRole(Role.VIEWER)
  computePresets(@Ctx() ctx: GraphQLContext): ComputePresetView[] {
    return ctx.jobs.computePresets();
  }

  @Mutation(() => Job, { description: 'Refused (CONFLICT) while a run is active' })
  @RequiresRole(Role.OPERATOR)
  updateCompute(
    @Arg('jobId', () => ID) jobId: string,
    @Arg('input', () => ComputeConfigInput) input: ComputeConfigInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<JobView> {
    return ctx.jobs.updateCompute(jobId, input);
  }

  @Mutation(() => Job, { description: 'Refused (CONFLICT) while a run is active' })
  @RequiresRole(Role.OPERATOR)
  applyComputePreset(
    @Arg('jobId', () => ID) jobId: string,
    @Arg('preset', () => String) preset: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<JobView> {
    return ctx.jobs.applyComputePreset(jobId, preset);
  }
}
