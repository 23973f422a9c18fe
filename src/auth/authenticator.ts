import type { AuthConfig, AuthMode } from '../config';
import { matchApiToken } from './api-tokens';
import type { AuthResult } from './auth-result';
import { makeJwtVerifier } from './jwt-verifier';
import { ANONYMOUS_PRINCIPAL, LOCAL_PRINCIPAL } from './roles';

/**
 * Who a caller is, from what it sends: over HTTP the `Authorization` header, over the WebSocket
 * graphql-ws `connectionParams` (checked once, at `connection_init`).
 */
export interface Authenticator {
  readonly mode: AuthMode;
  /** An `Authorization` header (`Bearer <jwt or API token>`); absent or malformed is UNAUTHENTICATED. */
  fromHeader(header: string | string[] | undefined): Promise<AuthResult>;
  /** graphql-ws `connectionParams`: `{ authorization: "Bearer …" }` or `{ token: "…" }`. */
  fromConnectionParams(params: unknown): Promise<AuthResult>;
}

const MISSING: AuthResult = {
  ok: false,
  code: 'UNAUTHENTICATED',
  message: 'Credentials required: send "Authorization: Bearer <token>" (WebSocket: connectionParams { authorization: "Bearer <token>" })',
};
const MALFORMED: AuthResult = { ok: false, code: 'UNAUTHENTICATED', message: 'The Authorization header must be "Bearer <token>"' };
const UNKNOWN_TOKEN: AuthResult = { ok: false, code: 'UNAUTHENTICATED', message: 'The token is not valid' };
/** Longest credential looked at: a JWT with many claims is a few KiB; nothing legitimate is bigger. */
const MAX_TOKEN_LENGTH = 16 * 1024;
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]*$/;

/** The token of `Bearer <token>`; null when the value has another shape. */
function bearerToken(value: string): string | null {
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(value);
  return m ? m[1] : null;
}

/**
 * The authenticator of a gateway's configuration. In `local` and `off` mode every caller is an admin
 * (`local`, `anonymous`) whatever it sends. Otherwise a bearer token is first looked up among the
 * API tokens (by hash, constant time), then, when it has a JWT's shape and JWTs are configured,
 * verified as one (src/auth/jwt-verifier.ts).
 */
export function makeAuthenticator(auth: AuthConfig): Authenticator {
  if (auth.mode !== 'credentials') {
    const allowed: AuthResult = { ok: true, principal: auth.mode === 'local' ? LOCAL_PRINCIPAL : ANONYMOUS_PRINCIPAL };
    const answer = () => Promise.resolve(allowed);
    return { mode: auth.mode, fromHeader: answer, fromConnectionParams: answer };
  }
  const jwt = auth.jwt && makeJwtVerifier(auth.jwt);
  const check = async (token: string): Promise<AuthResult> => {
    if (token.length > MAX_TOKEN_LENGTH) return UNKNOWN_TOKEN;
    const byToken = matchApiToken(auth.apiTokens, token);
    if (byToken) return { ok: true, principal: byToken };
    if (jwt && JWT_SHAPE.test(token)) return jwt(token);
    return UNKNOWN_TOKEN;
  };
  return {
    mode: auth.mode,
    fromHeader(header) {
      const value = Array.isArray(header) ? header[0] : header;
      if (!value) return Promise.resolve(MISSING);
      const token = bearerToken(value);
      return token ? check(token) : Promise.resolve(MALFORMED);
    },
    fromConnectionParams(params) {
      const p = params !== null && typeof params === 'object' ? (params as Record<string, unknown>) : {};
      const authorization = p.authorization ?? p.Authorization;
      if (typeof authorization === 'string') {
        const token = bearerToken(authorization);
        return token ? check(token) : Promise.resolve(MALFORMED);
      }
      if (typeof p.token === 'string' && p.token) return check(p.token);
      return Promise.resolve(MISSING);
    },
  };
}
