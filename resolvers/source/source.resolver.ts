import { Arg, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { RequiresRole, Role } from '../common/requires-role';
import type { ConnectionTestResultView, SourceTypeInfoView } from '../../src/api';
import type { GraphQLContext } from '../../src/graphql/context';
import { COST } from '../../src/graphql/costs';
import { SourceConfigInput } from '../job/source-config.input';
import { ConnectionTestResult } from './connection-test-result.type';
import { SourceTypeInfo } from './source-type-info.type';

/** What sources exist and whether one can be reached. */
@Resolver()
export class SourceResolver {
  @Query(() => [SourceTypeInfo])
  @RequiresRole(Role.VIEWER)
  sourceTypes(@Ctx() ctx: GraphQLContext): SourceTypeInfoView[] {
    return ctx.jobs.sourceTypes();
  }

  @Mutation(() => ConnectionTestResult, {
    description: 'Tries the connection; an unreachable source is ok: false, not an error',
    complexity: COST.connectionTest,
  })
  @RequiresRole(Role.OPERATOR)
  testSourceConnection(
    @Arg('input', () => SourceConfigInput) input: SourceConfigInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ConnectionTestResultView> {
    return ctx.jobs.testSourceConnection(input);
  }
}
