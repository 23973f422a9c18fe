import { GraphQLError, Kind, visit, type DocumentNode, type GraphQLSchema, type ValueNode } from 'graphql';
import { complexityError, queryComplexity, type QueryLimits } from './limits';

/**
 * The complexity check with its result remembered per document, so that the walk runs once per
 * distinct operation instead of once per request.
 *
 * A complexity depends on the document, the operation chosen and, through some arguments, on
 * variables: a connection's `first: $n` multiplies its subtree, and `@skip(if: $x)` /
 * `@include(if: $x)` drop one. Only the variables used inside those arguments are part of the key,
 * so `runUpdated(runId: $runId)` is computed once whatever the run, while `jobs(first: $n)` is
 * computed once per distinct `$n`. (A field whose `complexity` extension is a function could read
 * any of its arguments; if the schema has one, every variable counts. Numbers do not.)
 */
export type ComplexityCheck = (
  document: DocumentNode,
  variables?: Record<string, unknown> | null,
  operationName?: string | null,
) => GraphQLError | null;

/** Per operation: the variables its complexity depends on, and the results by their values. */
interface OperationEntry {
  relevant: readonly string[] | 'all';
  /** Complexity by the JSON of the relevant variables' values; null: it could not be computed. */
  byValues: Map<string, number | null>;
}

/** Distinct variable values remembered per operation (oldest dropped first). Default 64. */
const MAX_VALUES_PER_OPERATION = 64;

/** Variable names referenced anywhere inside `value` (objects and lists included). */
function variablesIn(value: ValueNode, into: Set<string>): void {
  if (value.kind === Kind.VARIABLE) into.add(value.name.value);
  else if (value.kind === Kind.LIST) for (const v of value.values) variablesIn(v, into);
  else if (value.kind === Kind.OBJECT) for (const f of value.fields) variablesIn(f.value, into);
}

/**
 * The variables the complexity of `document` can depend on: those in `first` arguments and in the
 * `if` of `@skip`/`@include`, anywhere in the document (fragments included; over-counting is safe).
 */
export function complexityVariables(document: DocumentNode): string[] {
  const found = new Set<string>();
  visit(document, {
    Field(node) {
      for (const arg of node.arguments ?? []) if (arg.name.value === 'first') variablesIn(arg.value, found);
    },
    Directive(node) {
      if (node.name.value !== 'skip' && node.name.value !== 'include') return;
      for (const arg of node.arguments ?? []) variablesIn(arg.value, found);
    },
  });
  return [...found].sort();
}

/**
 * True when some field of the schema computes its complexity (type-graphql's `complexity` option
 * given a function, which may read any argument). A number (src/graphql/costs.ts) depends on nothing.
 */
function hasFieldComplexity(schema: GraphQLSchema): boolean {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!('getFields' in type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      if ('extensions' in field && typeof field.extensions?.complexity === 'function') return true;
    }
  }
  return false;
}

/**
 * Builds the cached complexity check for one schema and its limits. Entries live as long as the
 * document objects they belong to (a WeakMap: Apollo's document store and the WebSocket document
 * cache bound how many there are). Like {@link checkComplexity}, variables that do not coerce make
 * no error here: execution reports them.
 */
export function makeComplexityCheck(schema: GraphQLSchema, limits: QueryLimits): ComplexityCheck {
  const allVariables = hasFieldComplexity(schema);
  const documents = new WeakMap<DocumentNode, Map<string, OperationEntry>>();

  const entryOf = (document: DocumentNode, operationName: string): OperationEntry => {
    let operations = documents.get(document);
    if (!operations) documents.set(document, (operations = new Map()));
    let entry = operations.get(operationName);
    if (!entry) {
      entry = { relevant: allVariables ? 'all' : complexityVariables(document), byValues: new Map() };
      operations.set(operationName, entry);
    }
    return entry;
  };

  return (document, variables, operationName) => {
    const entry = entryOf(document, operationName ?? '');
    // A variable left out (its default applies) and one given as null are different keys: [value] vs 0.
    const key =
      entry.relevant === 'all'
        ? JSON.stringify(variables ?? null)
        : entry.relevant.length === 0
          ? ''
          : JSON.stringify(entry.relevant.map((name) => (variables && Object.hasOwn(variables, name) ? [variables[name]] : 0)));
    let complexity = entry.byValues.get(key);
    if (complexity === undefined) {
      try {
        complexity = queryComplexity(schema, document, variables, operationName);
      } catch {
        complexity = null;
      }
      if (entry.byValues.size >= MAX_VALUES_PER_OPERATION) entry.byValues.delete(entry.byValues.keys().next().value!);
      entry.byValues.set(key, complexity);
    }
    return complexity !== null && complexity > limits.maxComplexity ? complexityError(complexity, limits) : null;
  };
}
