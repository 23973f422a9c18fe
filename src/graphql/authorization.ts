import type { ApolloServerPlugin, BaseContext, GraphQLRequestContextDidResolveOperation } from '@apollo/server';
import {
  GraphQLError,
  Kind,
  TypeInfo,
  getOperationAST,
  isObjectType,
  visit,
  visitWithTypeInfo,
  type DefinitionNode,
  type DocumentNode,
  type GraphQLSchema,
} from 'graphql';
import { parseRole, roleAtLeast, type Principal, type Role } from '../auth/roles';

/**
 * Who may run an operation, decided before any of it runs (so a refused mutation does nothing,
 * also when it is one of several root fields of one request).
 *
 * Every root field (Query, Mutation, Subscription) declares the role it needs in its field
 * extensions (`extensions.role`, set by resolvers/common/requires-role.ts); a nested field may
 * declare one too. An operation needs the highest role of the fields it selects (fragments
 * followed; `@skip`/`@include` ignored, so the check never depends on variables). A root field
 * that declares no role is refused to everyone: a new mutation is closed until its author says who
 * may call it. Introspection and `__typename` need only an authenticated caller.
 */

/** The field-extension key holding a field's role. */
export const ROLE_EXTENSION = 'role';

/** A field with a role, or a root field without one (`null`: refused to everyone). */
type Needs = Map<string, Role | null>;

const cache = new WeakMap<DocumentNode, Map<string, Needs>>();

/** The definitions operation `name` runs: itself and the fragments it reaches. */
function reachable(document: DocumentNode, operationName: string | null | undefined): DefinitionNode[] | null {
  const operation = getOperationAST(document, operationName);
  if (!operation) return null;
  const fragments = new Map(document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d]] : [])));
  const out: DefinitionNode[] = [operation];
  const seen = new Set<string>();
  for (let i = 0; i < out.length; i++) {
    visit(out[i], {
      FragmentSpread(node) {
        const frag = fragments.get(node.name.value);
        if (frag && !seen.has(frag.name.value)) {
          seen.add(frag.name.value);
          out.push(frag);
        }
      },
    });
  }
  return out;
}

/** The fields of an operation that need a role (schema coordinate → role), remembered per document. */
export function operationNeeds(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined): Needs {
  let byName = cache.get(document);
  if (!byName) cache.set(document, (byName = new Map()));
  const known = byName.get(operationName ?? '');
  if (known) return known;
  const needs: Needs = new Map();
  const roots = new Set([schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].filter(Boolean));
  const typeInfo = new TypeInfo(schema);
  const definitions = reachable(document, operationName) ?? [];
  visit(
    { kind: Kind.DOCUMENT, definitions },
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        if (node.name.value.startsWith('__')) return;
        const parent = typeInfo.getParentType();
        const field = typeInfo.getFieldDef();
        if (!parent || !field || !isObjectType(parent)) return;
        const coordinate = `${parent.name}.${field.name}`;
        const role = parseRole(field.extensions?.[ROLE_EXTENSION]);
        if (role) needs.set(coordinate, role);
        else if (roots.has(parent)) needs.set(coordinate, null);
      },
    }),
  );
  byName.set(operationName ?? '', needs);
  return needs;
}

/** FORBIDDEN (naming the fields and the role they need) when `principal` may not run the operation; null when it may. */
export function authorizeOperation(
  schema: GraphQLSchema,
  principal: Principal,
  document: DocumentNode,
  operationName: string | null | undefined,
): GraphQLError | null {
  const refused: string[] = [];
  const undeclared: string[] = [];
  for (const [coordinate, role] of operationNeeds(schema, document, operationName)) {
    if (role === null) undeclared.push(coordinate);
    else if (!roleAtLeast(principal.role, role)) refused.push(`${coordinate} needs the ${role} role`);
  }
  if (undeclared.length) return forbidden(`${undeclared.join(', ')} declares no role, so nobody may call it`);
  if (refused.length) return forbidden(`${refused.join(', ')}; ${principal.subject} is ${principal.role}`);
  return null;
}

function forbidden(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'FORBIDDEN' } });
}

/**
 * Apollo plugin: the role check once the operation is known, before it executes (a refusal is
 * FORBIDDEN, HTTP 403, and nothing ran). The principal comes from the request's context.
 */
export function authorizationPlugin(schema: GraphQLSchema): ApolloServerPlugin<BaseContext & { principal: Principal }> {
  const listener = {
    async didResolveOperation({
      document,
      operationName,
      contextValue,
    }: GraphQLRequestContextDidResolveOperation<BaseContext & { principal: Principal }>) {
      const error = authorizeOperation(schema, contextValue.principal, document, operationName);
      if (error) throw new GraphQLError(error.message, { extensions: { ...error.extensions, http: { status: 403 } } });
    },
  };
  return {
    async requestDidStart() {
      return listener;
    },
  };
}
