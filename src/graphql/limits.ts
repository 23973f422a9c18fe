import {
  GraphQLError,
  Kind,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValidationRule,
} from 'graphql';
import { fieldExtensionsEstimator, getComplexity, simpleEstimator, type ComplexityEstimator } from 'graphql-query-complexity';
import type { ApolloServerPlugin, BaseContext, GraphQLRequestContextDidResolveOperation } from '@apollo/server';
import type { RequestHandler } from 'express';
import type { Config } from '../config';
import type { ComplexityCheck } from './complexity-cache';
import { COST } from './costs';
import { aliasLimitRule, fragmentsOf, noIntrospectionRule, rootMutationLimitRule, validationError } from './selection-limits';

/**
 * Query limits, applied alike to HTTP (Apollo `validationRules` + {@link limitsPlugin} + the
 * {@link querySizeMiddleware}) and to WebSocket operations ({@link validateDocument} through the
 * document cache, then the complexity check, in graphql-ws `onSubscribe`):
 *
 * - size: the query text in bytes (`maxQueryBytes`), checked before parsing → BAD_REQUEST (HTTP 413);
 * - depth: nesting of fields (`maxDepth`), introspection aside → GRAPHQL_VALIDATION_FAILED;
 * - aliases (`maxAliases`) and root mutation fields (`maxRootMutations`), and introspection unless
 *   `introspection` (src/graphql/selection-limits.ts) → GRAPHQL_VALIDATION_FAILED;
 * - complexity: one point per field (each alias too), a connection's subtree multiplied by its
 *   `first`, costly fields and every mutation more (src/graphql/costs.ts) (`maxComplexity`) →
 *   GRAPHQL_VALIDATION_FAILED;
 * - page size (`first` ≤ `maxPageSize`) is enforced by the services, which know the defaults.
 *
 * A refused operation runs nothing: every check happens before execution.
 */
export type QueryLimits = Config['limits'];

const VALIDATION_FAILED = 'GRAPHQL_VALIDATION_FAILED';

/** Refuses a query text over `maxBytes` (UTF-8) before anything parses it; null when it fits. */
export function checkQuerySize(query: unknown, maxBytes: number): GraphQLError | null {
  if (typeof query !== 'string') return null;
  const bytes = Buffer.byteLength(query, 'utf8');
  if (bytes <= maxBytes) return null;
  return new GraphQLError(`Query is ${bytes} bytes; the limit is ${maxBytes}`, {
    extensions: { code: 'BAD_REQUEST', http: { status: 413 } },
  });
}

/**
 * Validation rule: the operation's field nesting may not exceed `maxDepth` (`{ jobs { edges { node
 * { id } } } }` is 4). Fragments are followed (a cycle is left to graphql's own rule). Fields under
 * `__schema`/`__type` do not count, so GraphiQL's introspection works at any limit; graphql-js's own
 * MaxIntrospectionDepthRule (part of `specifiedRules`) bounds those.
 */
export function depthLimitRule(maxDepth: number): ValidationRule {
  return (context) => {
    const fragments = fragmentsOf(context);
    /** The deepest field level below `set`, which sits at `depth`. */
    const measure = (set: SelectionSetNode, depth: number, seen: ReadonlySet<string>): number => {
      let deepest = depth;
      for (const sel of set.selections) {
        if (sel.kind === Kind.FIELD) {
          if (sel.name.value === '__schema' || sel.name.value === '__type') continue;
          deepest = Math.max(deepest, sel.selectionSet ? measure(sel.selectionSet, depth + 1, seen) : depth + 1);
        } else if (sel.kind === Kind.INLINE_FRAGMENT) {
          deepest = Math.max(deepest, measure(sel.selectionSet, depth, seen));
        } else {
          const frag = fragments.get(sel.name.value);
          if (frag && !seen.has(frag.name.value))
            deepest = Math.max(deepest, measure(frag.selectionSet, depth, new Set(seen).add(frag.name.value)));
        }
      }
      return deepest;
    };
    return {
      OperationDefinition(node) {
        const depth = measure(node.selectionSet, 0, new Set());
        if (depth > maxDepth) {
          context.reportError(validationError(`Query depth ${depth} exceeds the limit of ${maxDepth}`, node));
        }
      },
    };
  };
}

/** A connection (a field with a `first` argument) costs its subtree once per requested item. */
const paginationEstimator: ComplexityEstimator = ({ args, childComplexity }) => {
  if (typeof args.first === 'number') return 1 + childComplexity * Math.max(1, args.first);
  return undefined;
};

/** A root mutation field costs {@link COST.mutation} plus its selection (unless it has a cost of its own). */
const mutationEstimator: ComplexityEstimator = ({ type, childComplexity }) =>
  type.name === 'Mutation' ? COST.mutation + childComplexity : undefined;

/**
 * The estimators, in order: a field's own `complexity` (type-graphql option, src/graphql/costs.ts),
 * then mutations, then pagination, then 1 per field. graphql-query-complexity adds up every field
 * node, so each alias (and each repetition of a field) pays its own cost.
 */
const complexityEstimators: ComplexityEstimator[] = [
  fieldExtensionsEstimator(),
  mutationEstimator,
  paginationEstimator,
  simpleEstimator({ defaultComplexity: 1 }),
];

/** The complexity of one operation, with its variables (so `first: $n` counts). */
export function queryComplexity(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables?: Record<string, unknown> | null,
  operationName?: string | null,
): number {
  return getComplexity({
    schema,
    query: document,
    estimators: complexityEstimators,
    variables: variables ?? undefined,
    operationName: operationName ?? undefined,
  });
}

/**
 * The complexity check: an error when the operation costs more than `maxComplexity`, else null.
 * Variables that do not coerce are left for execution to report (it refuses to run then anyway).
 */
export function checkComplexity(
  schema: GraphQLSchema,
  document: DocumentNode,
  limits: QueryLimits,
  variables?: Record<string, unknown> | null,
  operationName?: string | null,
): GraphQLError | null {
  let complexity: number;
  try {
    complexity = queryComplexity(schema, document, variables, operationName);
  } catch {
    return null;
  }
  return complexity <= limits.maxComplexity ? null : complexityError(complexity, limits);
}

/** The error for an operation whose complexity is over `limits.maxComplexity`. */
export function complexityError(complexity: number, limits: QueryLimits): GraphQLError {
  return new GraphQLError(`Query complexity ${complexity} exceeds the limit of ${limits.maxComplexity}`, {
    extensions: { code: VALIDATION_FAILED, complexity, maxComplexity: limits.maxComplexity, http: { status: 400 } },
  });
}

/**
 * The rules of the limits, besides GraphQL's own (`specifiedRules`): depth, aliases, root
 * mutation fields, and no introspection unless `limits.introspection`. Apollo's `validationRules`.
 */
export function limitRules(limits: QueryLimits): ValidationRule[] {
  return [
    depthLimitRule(limits.maxDepth),
    aliasLimitRule(limits.maxAliases),
    rootMutationLimitRule(limits.maxRootMutations),
    ...(limits.introspection ? [] : [noIntrospectionRule]),
  ];
}

const rulesByLimits = new WeakMap<QueryLimits, ValidationRule[]>();

/** The validation rules every operation gets: GraphQL's own plus {@link limitRules}. */
export function validationRules(limits: QueryLimits): ValidationRule[] {
  // Built once per limits object (the config's is frozen): the WebSocket validates every operation with them.
  let rules = rulesByLimits.get(limits);
  if (!rules) rulesByLimits.set(limits, (rules = [...specifiedRules, ...limitRules(limits)]));
  return rules;
}

/**
 * GraphQL validation with the limits' rules, for transports that do not go through Apollo (the
 * WebSocket): the errors with Apollo's codes (empty: valid). Depends on the document only, so a
 * caller may remember it per document text (src/graphql/document-cache.ts).
 */
export function validateDocument(schema: GraphQLSchema, document: DocumentNode, limits: QueryLimits): readonly GraphQLError[] {
  return validate(schema, document, validationRules(limits)).map((e) =>
    e.extensions.code
      ? e
      : new GraphQLError(e.message, {
          nodes: e.nodes,
          source: e.source,
          positions: e.positions,
          extensions: { ...e.extensions, code: VALIDATION_FAILED },
        }),
  );
}

/**
 * Everything the HTTP path checks, in one call and uncached: GraphQL validation, depth, then
 * complexity. Returns the errors (empty: go ahead).
 */
export function validateOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  limits: QueryLimits,
  variables?: Record<string, unknown> | null,
  operationName?: string | null,
): readonly GraphQLError[] {
  const errors = validateDocument(schema, document, limits);
  if (errors.length) return errors;
  const tooComplex = checkComplexity(schema, document, limits, variables, operationName);
  return tooComplex ? [tooComplex] : [];
}

/**
 * Apollo plugin: the complexity check, once the operation and its variables are known. Apollo
 * already caches parsing and validation per query text (its document store hands back the same
 * document object), so `check` (`makeComplexityCheck` in complexity-cache.ts) remembers the complexity per document.
 */
export function limitsPlugin(check: ComplexityCheck): ApolloServerPlugin {
  const listener = {
    async didResolveOperation({ document, request, operationName }: GraphQLRequestContextDidResolveOperation<BaseContext>) {
      const error = check(document, request.variables, operationName);
      if (error) throw error;
    },
  };
  return {
    async requestDidStart() {
      return listener;
    },
  };
}

/**
 * Express middleware (after `express.json()`, before Apollo): refuses a query text over
 * `maxQueryBytes` with HTTP 413 and a GraphQL-shaped error, before anything parses it.
 */
export function querySizeMiddleware(limits: QueryLimits): RequestHandler {
  return (req, res, next) => {
    const query = req.method === 'GET' ? req.query?.query : (req.body as { query?: unknown } | undefined)?.query;
    const error = checkQuerySize(query, limits.maxQueryBytes);
    if (!error) return next();
    res.status(413).json({ errors: [{ message: error.message, extensions: { code: error.extensions.code } }] });
  };
}
