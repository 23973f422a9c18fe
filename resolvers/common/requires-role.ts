import { Extensions } from 'type-graphql';
import { Role } from '../../src/auth/roles';
import { ROLE_EXTENSION } from '../../src/graphql/authorization';

/**
 * Declares the role a query, mutation or subscription (or any field) needs: `@RequiresRole(Role.OPERATOR)`.
 * The gateway checks it before the operation runs (src/graphql/authorization.ts); a root field
 * without one is refused to everyone, so every new one must say who may call it.
 */
export function RequiresRole(role: Role): MethodDecorator & PropertyDecorator {
  return Extensions({ [ROLE_EXTENSION]: role });
}

export { Role };
