import {
  GraphQLError,
  Kind,
  type ASTNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

/**
 * Validation rules on how many things one operation asks for, which complexity alone does not
 * bound well: aliases (each runs its resolver again: 800 aliases of `jobStats` are 800 aggregate
 * scans), root mutation fields (each is a transaction of its own: 150 aliased `createJob` would
 * create 150 jobs), and introspection when it is off. Each refusal is a validation error
 * (GRAPHQL_VALIDATION_FAILED), so nothing of the operation runs.
 */

const VALIDATION_FAILED = 'GRAPHQL_VALIDATION_FAILED';

/** A refusal of these rules (and of the depth limit in limits.ts): GRAPHQL_VALIDATION_FAILED at `node`. */
export function validationError(message: string, node: ASTNode): GraphQLError {
  return new GraphQLError(message, { nodes: [node], extensions: { code: VALIDATION_FAILED } });
}

/** The fragments of the document `context` validates, by name. */
export function fragmentsOf(context: ValidationContext): Map<string, FragmentDefinitionNode> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of context.getDocument().definitions) {
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  }
  return fragments;
}

/**
 * Aliases in `set` as execution would meet them: a fragment counts each time it is spread. Each
 * fragment is counted once (memo) however often it is spread, so the walk stays linear in the
 * document; a fragment cycle counts nothing (graphql's NoFragmentCycles reports it).
 */
function countAliases(set: SelectionSetNode, fragments: Map<string, FragmentDefinitionNode>, memo: Map<string, number>): number {
  let count = 0;
  for (const sel of set.selections) {
    if (sel.kind === Kind.FIELD) {
      if (sel.alias) count++;
      if (sel.selectionSet) count += countAliases(sel.selectionSet, fragments, memo);
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      count += countAliases(sel.selectionSet, fragments, memo);
    } else {
      const name = sel.name.value;
      const known = memo.get(name);
      if (known !== undefined) {
        count += known;
        continue;
      }
      const frag = fragments.get(name);
      if (!frag) continue;
      memo.set(name, 0); // in progress: a cycle adds nothing
      const inFragment = countAliases(frag.selectionSet, fragments, memo);
      memo.set(name, inFragment);
      count += inFragment;
    }
    if (count > Number.MAX_SAFE_INTEGER) return Number.MAX_SAFE_INTEGER;
  }
  return count;
}

/** Validation rule: an operation may have at most `maxAliases` aliased fields (fragments spread counted each time). */
export function aliasLimitRule(maxAliases: number): ValidationRule {
  return (context) => {
    const fragments = fragmentsOf(context);
    return {
      OperationDefinition(node) {
        const aliases = countAliases(node.selectionSet, fragments, new Map());
        if (aliases > maxAliases) {
          context.reportError(validationError(`Operation has ${aliases} aliases; the limit is ${maxAliases}`, node));
        }
      },
    };
  };
}

/** The response keys at the root of `operation`, through its fragments (directives ignored: counting too many is safe). */
function rootResponseKeys(operation: OperationDefinitionNode, fragments: Map<string, FragmentDefinitionNode>): Set<string> {
  const keys = new Set<string>();
  const seen = new Set<string>();
  const collect = (set: SelectionSetNode) => {
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) keys.add((sel.alias ?? sel.name).value);
      else if (sel.kind === Kind.INLINE_FRAGMENT) collect(sel.selectionSet);
      else if (!seen.has(sel.name.value)) {
        seen.add(sel.name.value);
        const frag = fragments.get(sel.name.value);
        if (frag) collect(frag.selectionSet);
      }
    }
  };
  collect(operation.selectionSet);
  return keys;
}

/**
 * Validation rule: a mutation operation may have at most `maxRootMutations` root fields. Counted
 * by response key, as execution runs them: the same field twice without an alias (same arguments,
 * or validation refuses it) runs once.
 */
export function rootMutationLimitRule(maxRootMutations: number): ValidationRule {
  return (context) => {
    const fragments = fragmentsOf(context);
    return {
      OperationDefinition(node) {
        if (node.operation !== 'mutation') return;
        const fields = rootResponseKeys(node, fragments).size;
        if (fields > maxRootMutations) {
          context.reportError(validationError(`Mutation has ${fields} root fields; the limit is ${maxRootMutations} per request`, node));
        }
      },
    };
  };
}

/**
 * Validation rule for a gateway with introspection off: `__schema` and `__type`, the only ways
 * into the introspection types, are refused; `__typename` stays allowed. The message says how to
 * turn it on.
 */
export const noIntrospectionRule: ValidationRule = (context) => ({
  Field(node) {
    const name = node.name.value;
    if (name !== '__schema' && name !== '__type') return;
    context.reportError(
      validationError(`Introspection is off on this gateway (field "${name}"); GRAPHQL_INTROSPECTION=true turns it on`, node),
    );
  },
});

/**
 * graphql-js's "Did you mean …?" hints name fields, types and enum values of the schema; with
 * introspection off they would let a client rebuild it by guessing. Removed as Apollo's
 * `hideSchemaDetailsFromClientErrors` does (which covers validation only; this serves every message).
 */
export function withoutSuggestions(message: string): string {
  return message.replace(/ ?Did you mean(.+?)\?$/, '');
}
