import type { ApolloServerPlugin, BaseContext, GraphQLRequestContextDidEncounterErrors } from '@apollo/server';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { AppError } from '../errors';
import type { Logger } from '../logger';
import { withoutSuggestions } from './selection-limits';

/**
 * Error mapping at the GraphQL edge, the same for HTTP (Apollo `formatError`) and the WebSocket
 * (graphql-ws `onError` / `onNext`):
 *
 * - an `AppError` from a service: its message, `extensions.code` (BAD_USER_INPUT, NOT_FOUND,
 *   CONFLICT, UNAVAILABLE …) and `extensions.field` when it names one;
 * - GraphQL's own errors (syntax, validation, variable coercion) and errors raised on purpose with
 *   a code: kept, with Apollo's codes (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED,
 *   BAD_USER_INPUT), plus `extensions.field` when the message names an input path, and without
 *   graphql-js's "Did you mean …?" hints when introspection is off (`hideSuggestions`);
 * - anything else: masked as "Internal server error (request <id>)", code INTERNAL_SERVER_ERROR,
 *   and logged in full (message, stack, cause) with the request id. Stack traces never leave.
 */

/**
 * The request id of each error of an HTTP request, for Apollo's `formatError`, which gets no
 * context: {@link errorRequestIdsPlugin} notes it, Apollo then formats the very same error objects.
 * (Not an AsyncLocalStorage: once one runs, Node 20 pays a promise hook on every promise of the
 * process, which made every await — HTTP, WebSocket fan-out, database — several times slower.)
 */
const errorRequestIds = new WeakMap<object, string>();

export const INTERNAL_SERVER_ERROR = 'INTERNAL_SERVER_ERROR';

function appErrorOf(err: unknown): AppError | null {
  for (let e = err, depth = 0; e && depth < 5; depth++) {
    if (e instanceof AppError) return e;
    e = e instanceof GraphQLError ? e.originalError : undefined;
  }
  return null;
}

/**
 * True for an error raised for the client on purpose, not a crash: one made by graphql-js itself
 * (syntax, validation, coercion: no `originalError`), or a GraphQLError carrying a code (Apollo's
 * BAD_USER_INPUT wrappers, a scalar refusing a value, the limits).
 */
function isClientGraphQLError(err: unknown): err is GraphQLError {
  if (!(err instanceof GraphQLError)) return false;
  const code = err.extensions?.code;
  if (typeof code === 'string' && code !== INTERNAL_SERVER_ERROR) return true;
  return err.originalError === undefined || err.originalError === null;
}

/**
 * The input path a GraphQL coercion message names, e.g. `Variable "$input" got invalid value 0 at
 * "input.processing.batchSize"; …` → `input.processing.batchSize`; a missing or unknown input field
 * (`Field "name" of required type "String!" was not provided.`) is appended to it.
 */
export function fieldFromMessage(message: string): string | undefined {
  const at = /\bat "([^"]+)"/.exec(message)?.[1] ?? /^Variable "\$([^"]+)"/.exec(message)?.[1];
  if (!at) return undefined;
  const missing = /Field "([^"]+)" (?:of required type|is not defined by type)/.exec(message)?.[1];
  return missing ? `${at}.${missing}` : at;
}

/** The code GraphQL's own error would get from Apollo, for the paths (WebSocket) that do not go through Apollo. */
function defaultCode(err: GraphQLError): string {
  if (/^Variable "\$/.test(err.message)) return 'BAD_USER_INPUT';
  return 'GRAPHQL_VALIDATION_FAILED';
}

export interface FormatOptions {
  requestId: string;
  logger: Logger;
  /** Drop graphql-js's "Did you mean …?" hints from client errors (they name the schema's fields and types). Default false. */
  hideSuggestions?: boolean;
  /** Told the code of every error formatted for a client (`jobwire_graphql_errors_total`). */
  countError?: (code: string) => void;
}

/**
 * Maps one error for the client (see the module comment). `formatted` is what graphql-js or Apollo
 * made of it (message, locations, path, extensions); `error` the original.
 */
export function formatGraphQLError(formatted: GraphQLFormattedError, error: unknown, opts: FormatOptions): GraphQLFormattedError {
  const mapped = mapError(formatted, error, opts);
  opts.countError?.(String(mapped.extensions?.code));
  return mapped;
}

function mapError(formatted: GraphQLFormattedError, error: unknown, opts: FormatOptions): GraphQLFormattedError {
  const base = { ...(formatted.locations ? { locations: formatted.locations } : {}), ...(formatted.path ? { path: formatted.path } : {}) };
  const app = appErrorOf(error);
  if (app) {
    return { message: app.message, ...base, extensions: { code: app.code, ...(app.field ? { field: app.field } : {}) } };
  }
  if (isClientGraphQLError(error)) {
    const ext: Record<string, unknown> = { ...formatted.extensions };
    delete ext.stacktrace;
    delete ext.exception;
    const own = error.extensions?.code;
    const code = typeof own === 'string' && own !== INTERNAL_SERVER_ERROR ? own : defaultCode(error);
    const field = typeof ext.field === 'string' ? ext.field : fieldFromMessage(error.message);
    const message = opts.hideSuggestions ? withoutSuggestions(formatted.message) : formatted.message;
    return { message, ...base, extensions: { ...ext, code, ...(field ? { field } : {}) } };
  }
  const original = error instanceof GraphQLError && error.originalError ? error.originalError : error;
  opts.logger.error(
    { err: original, requestId: opts.requestId, path: formatted.path, component: 'graphql' },
    `unexpected error while serving request ${opts.requestId}`,
  );
  return {
    message: `Internal server error (request ${opts.requestId})`,
    ...base,
    extensions: { code: INTERNAL_SERVER_ERROR, requestId: opts.requestId },
  };
}

/**
 * Apollo's `formatError`, with the request id {@link errorRequestIdsPlugin} noted for the error
 * ('unknown' for the few errors Apollo makes before a request has a context, e.g. an unreadable body).
 */
export function apolloFormatError(logger: Logger, opts: Pick<FormatOptions, 'hideSuggestions' | 'countError'> = {}) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError =>
    formatGraphQLError(formatted, error, {
      requestId: (typeof error === 'object' && error !== null && errorRequestIds.get(error)) || 'unknown',
      logger,
      hideSuggestions: opts.hideSuggestions,
      countError: opts.countError,
    });
}

/** Apollo plugin: notes the request id (`contextValue.requestId`) of every error of a request, for {@link apolloFormatError}. */
export function errorRequestIdsPlugin(): ApolloServerPlugin<BaseContext & { requestId: string }> {
  const listener = {
    async didEncounterErrors({ errors, contextValue }: GraphQLRequestContextDidEncounterErrors<BaseContext & { requestId: string }>) {
      for (const error of errors) errorRequestIds.set(error, contextValue.requestId);
    },
  };
  return {
    async requestDidStart() {
      return listener;
    },
  };
}

/** A client error with a stable code, for edge code (limits, WebSocket parsing) that is not a service. */
export function clientError(message: string, code: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}
