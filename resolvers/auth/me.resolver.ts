import { Ctx, Query, Resolver } from 'type-graphql';
import type { Principal as PrincipalView } from '../../src/auth/roles';
import type { GraphQLContext } from '../../src/graphql/context';
import { RequiresRole, Role } from '../common/requires-role';
import { Principal } from './principal.type';

/** `me`: who the gateway takes the caller for. */
@Resolver()
export class MeResolver {
  @Query(() => Principal, { description: 'The caller: its subject and role' })
  @RequiresRole(Role.VIEWER)
  me(@Ctx() ctx: GraphQLContext): Pick<PrincipalView, 'subject' | 'role'> {
    return { subject: ctx.principal.subject, role: ctx.principal.role };
  }
}
