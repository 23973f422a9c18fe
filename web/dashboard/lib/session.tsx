/**
 * The signed-in session: one typed jobwire client (HTTP for queries and mutations, one graphql-ws
 * socket for every subscription), made with the token kept in sessionStorage (none when auth is
 * off: the embedded default opens straight in).
 */
import { createContext, useContext } from 'react';
import { createJobwireClient, type JobwireClient } from '../../../client/jobwire-client';

const TOKEN_KEY = 'jobwire.token';

/** The token of this tab's session, if one was entered. */
export function storedToken(): string | undefined {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
  } catch {
    return undefined; // storage disabled: sign in again on every load
  }
}

/** Keeps (or, with undefined, forgets) the token for this tab. */
export function storeToken(token: string | undefined): void {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled: the session lasts as long as the page
  }
}

type Listener = () => void;

/** A client and the socket's reconnections (live views resume from their cursor on each). */
export interface Session {
  client: JobwireClient;
  /** Calls `listener` each time the subscription socket connects again; returns the unsubscribe. */
  onReconnected(listener: Listener): () => void;
  token: string | undefined;
}

/** A session for `token` against this page's own gateway (`/graphql` on the same origin). */
export function createSession(token: string | undefined): Session {
  const listeners = new Set<Listener>();
  const client = createJobwireClient({
    url: new URL('/graphql', window.location.href).href,
    token,
    onReconnected: () => listeners.forEach((l) => l()),
  });
  return {
    client,
    token,
    onReconnected(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export const SessionContext = createContext<Session | null>(null);

/** The current session (inside the signed-in app). */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside <SessionContext.Provider>');
  return session;
}
