/**
 * Data hooks over the session's client: a query (re-run when its variables change) and a
 * subscription (restarted when its variables change, ended on unmount). No polling anywhere: a
 * view stays current through its subscriptions.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { JobwireError } from '../../../client/jobwire-client';
import { useSession } from './session';

export interface QueryState<T> {
  data: T | undefined;
  error: JobwireError | undefined;
  loading: boolean;
  /** Runs the query again (e.g. after a mutation the subscriptions do not cover). */
  reload: () => void;
  /** Replaces the data in place (live updates). */
  setData: (update: (prev: T | undefined) => T | undefined) => void;
}

const asJobwireError = (e: unknown) =>
  e instanceof JobwireError ? e : new JobwireError([{ message: String((e as Error)?.message ?? e), extensions: { code: 'NETWORK' } }]);

/** Runs `doc` with `vars` (skipped while `vars` is null); keyed by the variables' JSON. */
export function useQuery<TData, TVars>(doc: TypedDocumentNode<TData, TVars>, vars: TVars | null): QueryState<TData> {
  const { client } = useSession();
  const [data, setDataState] = useState<TData | undefined>(undefined);
  const [error, setError] = useState<JobwireError | undefined>(undefined);
  const [loading, setLoading] = useState(vars !== null);
  const [generation, setGeneration] = useState(0);
  const key = vars === null ? null : JSON.stringify(vars);

  useEffect(() => {
    if (key === null) return;
    let current = true;
    setLoading(true);
    client.request(doc, JSON.parse(key) as TVars).then(
      (d) => {
        if (!current) return;
        setDataState(d);
        setError(undefined);
        setLoading(false);
      },
      (e) => {
        if (!current) return;
        setError(asJobwireError(e));
        setLoading(false);
      },
    );
    return () => {
      current = false;
    };
  }, [client, doc, key, generation]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { data, error, loading, reload, setData: setDataState };
}

/**
 * Subscribes to `doc` with `vars` (not while `vars` is null) and hands every message to `onData`
 * (the latest callback: it need not be memoised). Returns the error that ended it, if any.
 */
export function useSubscription<TData, TVars>(
  doc: TypedDocumentNode<TData, TVars>,
  vars: TVars | null,
  onData: (data: TData) => void,
): JobwireError | undefined {
  const { client } = useSession();
  const handler = useRef(onData);
  handler.current = onData;
  const [error, setError] = useState<JobwireError | undefined>(undefined);
  const key = vars === null ? null : JSON.stringify(vars);

  useEffect(() => {
    if (key === null) return;
    const it = client.subscribe(doc, JSON.parse(key) as TVars);
    let current = true;
    setError(undefined);
    (async () => {
      try {
        for (;;) {
          const r = await it.next();
          if (r.done || !current) break;
          handler.current(r.value);
        }
      } catch (e) {
        if (current) setError(asJobwireError(e));
      }
    })();
    return () => {
      current = false;
      void it.return?.();
    };
  }, [client, doc, key]);
  return error;
}

/** Runs a mutation (or any request) and tracks it: `run(vars)` resolves to the data or undefined on error. */
export function useMutation<TData, TVars>(doc: TypedDocumentNode<TData, TVars>) {
  const { client } = useSession();
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<JobwireError | undefined>(undefined);
  const run = useCallback(
    async (vars: TVars): Promise<TData | undefined> => {
      setPending(true);
      setError(undefined);
      try {
        return await client.request(doc, vars);
      } catch (e) {
        setError(asJobwireError(e));
        return undefined;
      } finally {
        setPending(false);
      }
    },
    [client, doc],
  );
  return { run, pending, error, clearError: () => setError(undefined) };
}

/** The current time, re-read every `ms` (for durations and "x s ago" labels; nothing is fetched). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
