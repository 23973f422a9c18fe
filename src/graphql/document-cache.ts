import { parse, type DocumentNode, type GraphQLError, type GraphQLSchema } from 'graphql';
import { clientError } from './errors';
import { validateDocument, type QueryLimits } from './limits';

/**
 * What a query text comes to: its document when it parses and validates (with the cache's own copy
 * of the text, for callers that keep it), else the errors to send.
 */
export type CachedDocument =
  | { document: DocumentNode; query: string; errors?: undefined }
  | { document?: undefined; query?: undefined; errors: readonly GraphQLError[] };

export interface DocumentCacheOptions {
  /** Most query texts remembered. Default 1000. */
  maxEntries?: number;
  /** Most bytes of query text remembered in all (the documents take roughly ten times more). Default 2 MiB. */
  maxBytes?: number;
}

/**
 * Parsing and validation (GraphQL's rules and the depth limit) remembered per query text, what
 * Apollo's document store does for HTTP, for the WebSocket: a thousand dashboards sending the same
 * subscription parse and validate it once, and hold one document between them. A bounded LRU: the
 * least recently used texts go first once `maxEntries` or `maxBytes` is reached. Texts that do not
 * parse are not remembered (the syntax error comes back each time, code GRAPHQL_PARSE_FAILED).
 */
export class DocumentCache {
  private readonly entries = new Map<string, CachedDocument>();
  private bytes = 0;
  private readonly maxEntries: number;
  private readonly maxBytes: number;

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly limits: QueryLimits,
    options: DocumentCacheOptions = {},
  ) {
    this.maxEntries = options.maxEntries ?? 1000;
    this.maxBytes = options.maxBytes ?? 2 * 1024 * 1024;
  }

  /** The document of `query`, or the parse or validation errors (check the size before: this parses). */
  get(query: string): CachedDocument {
    const hit = this.entries.get(query);
    if (hit) {
      // Most recently used last: Map keeps insertion order.
      this.entries.delete(query);
      this.entries.set(query, hit);
      return hit;
    }
    let document: DocumentNode;
    try {
      document = parse(query);
    } catch (err) {
      return { errors: [clientError((err as Error).message, 'GRAPHQL_PARSE_FAILED')] };
    }
    const errors = validateDocument(this.schema, document, this.limits);
    const entry: CachedDocument = errors.length ? { errors } : { document, query };
    this.entries.set(query, entry);
    this.bytes += query.length;
    for (const [oldest] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= oldest.length;
    }
    return entry;
  }

  /** How many texts are remembered. */
  get size(): number {
    return this.entries.size;
  }
}
