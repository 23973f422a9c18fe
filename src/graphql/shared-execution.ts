import { execute, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';

/**
 * Subscription events executed once per distinct operation instead of once per subscriber.
 *
 * graphql's own `subscribe` runs `execute` for every subscriber and every event. A dashboard watched
 * by a thousand clients sends the same operation (same text, same variables) and receives the same
 * event object (the bus hands one parsed object to every local listener), so all of them would get
 * the same result a thousand times over. Here the result is cached per event object and operation,
 * so it is computed once and every subscriber of that operation gets the very same result object
 * (and {@link resultJson} serializes it once). Operations are the same when their document (one
 * object per query text: src/graphql/document-cache.ts), operation name and variables are
 * ({@link operationKey}), and so are the rights of their callers: the key holds the caller's role,
 * so a result is only ever shared between callers of the same role (no field resolver reads more of
 * the caller than its role; one that did would have to add it to the key). Events that are not objects, and operations without a key, are executed per
 * subscriber; so, in effect, are per-subscriber payloads (snapshots, log chunks): nobody shares
 * their event object.
 */
export interface SharedExecution {
  /** The result of `args` for `event` (its root value): computed once per event object, document and `key`. */
  resultFor(args: ExecutionArgs, key: string | undefined, event: unknown): ExecutionResult | Promise<ExecutionResult>;
}

/**
 * What, besides the document, makes two operations the same: their name, their variables and
 * `rights`, what the result may depend on about the caller (its role).
 */
export function operationKey(operationName: string | null | undefined, variables: unknown, rights: string): string {
  return `${rights}\u0000${operationName ?? ''}\u0000${JSON.stringify(variables ?? null)}`;
}

export function makeSharedExecution(): SharedExecution {
  /** Per event: per document, per key, the result every subscriber of that operation gets. */
  const results = new WeakMap<object, Map<DocumentNode, Map<string, ExecutionResult | Promise<ExecutionResult>>>>();
  return {
    resultFor(args, key, event) {
      if (key === undefined || typeof event !== 'object' || event === null) return execute({ ...args, rootValue: event });
      let byDocument = results.get(event);
      if (!byDocument) results.set(event, (byDocument = new Map()));
      let byKey = byDocument.get(args.document);
      if (!byKey) byDocument.set(args.document, (byKey = new Map()));
      let result = byKey.get(key);
      if (!result) byKey.set(key, (result = execute({ ...args, rootValue: event })));
      return result;
    },
  };
}

const serialized = new WeakMap<ExecutionResult, string>();

/**
 * `JSON.stringify(result)`, made once per result object: shared results are serialized once for
 * every subscriber that receives them.
 */
export function resultJson(result: ExecutionResult): string {
  let json = serialized.get(result);
  if (json === undefined) serialized.set(result, (json = JSON.stringify(result)));
  return json;
}
