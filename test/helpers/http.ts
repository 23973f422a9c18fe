import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type DocumentNode, type GraphQLFormattedError } from 'graphql';

/** A GraphQL error as the server sends it (with our `extensions.code` / `field`). */
export type GqlError = GraphQLFormattedError & { extensions?: { code?: string; field?: string; [k: string]: unknown } };

export interface GqlResponse<T> {
  data: T | null | undefined;
  errors: GqlError[] | undefined;
  status: number;
  headers: Headers;
}

/**
 * POSTs one GraphQL operation to `url` (the /graphql endpoint) and returns what came back, never
 * throwing on GraphQL or HTTP errors (tests assert on them). With a codegen `TypedDocumentNode`,
 * `data` and `variables` are typed.
 */
export async function gql<TData = Record<string, any>, TVars = Record<string, unknown>>(
  url: string,
  document: TypedDocumentNode<TData, TVars> | DocumentNode | string,
  variables?: TVars,
  headers: Record<string, string> = {},
): Promise<GqlResponse<TData>> {
  const query = typeof document === 'string' ? document : print(document);
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  let body: { data?: TData | null; errors?: GqlError[] };
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`Non-JSON response (HTTP ${res.status}) from ${url}: ${text.slice(0, 500)}`);
  }
  return { data: body.data, errors: body.errors, status: res.status, headers: res.headers };
}

/** The data of a response that must have succeeded; otherwise throws with the errors, for readable failures. */
export function ok<T>(res: GqlResponse<T>): T {
  if (res.errors?.length || !res.data) throw new Error(`GraphQL errors (HTTP ${res.status}): ${JSON.stringify(res.errors)}`);
  return res.data;
}

/** The one error of a response that must have failed. */
export function onlyError<T>(res: GqlResponse<T>): GqlError {
  if (!res.errors?.length) throw new Error(`expected an error, got ${JSON.stringify(res.data)}`);
  return res.errors[0];
}
