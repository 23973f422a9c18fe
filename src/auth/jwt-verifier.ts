import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyOptions } from 'jose';
import { parseRole, type Role } from './roles';
import type { AuthResult } from './auth-result';

/** How a gateway checks JWTs: one HS256 secret, or a remote key set (JWKS) with a required issuer and audience. */
export interface JwtSettings {
  /** HS256 secret (JWT_SECRET). */
  secret?: string;
  /** Key set URL (JWT_JWKS_URL): RS/PS/ES/EdDSA tokens. */
  jwksUrl?: string;
  /** Required `iss` (JWT_ISSUER); required with a key set, checked with a secret when set. */
  issuer?: string;
  /** Accepted `aud` values (JWT_AUDIENCE, comma-separated); one must match. */
  audience?: string[];
  /** The claim holding the role (JWT_ROLE_CLAIM, default `role`); a dotted name reaches into objects (`realm_access.roles`). */
  roleClaim: string;
}

/** Leeway for `exp` and `nbf` between the issuer's clock and ours. */
const CLOCK_TOLERANCE_S = 5;
/** The asymmetric algorithms a key set may sign with (never HS* nor `none`: a public key is not a secret). */
const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/** Verifies one JWT into a principal or a refusal; never throws. */
export type JwtVerifier = (token: string) => Promise<AuthResult>;

/** The claim `name` of `payload`: the key itself, else a dotted path into nested objects. */
function claim(payload: JWTPayload, name: string): unknown {
  if (name in payload) return payload[name];
  let v: unknown = payload;
  for (const part of name.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  return v;
}

/** A role claim: one role, or a list of them (the highest known one counts). */
function roleOf(value: unknown): Role | null {
  const values = Array.isArray(value) ? value : [value];
  const roles = values.map(parseRole).filter((r): r is Role => r !== null);
  for (const r of ['ADMIN', 'OPERATOR', 'VIEWER'] as Role[]) if (roles.includes(r)) return r;
  return null;
}

/** What a refused token is told: enough for its owner to fix it, nothing about the key. */
function refusal(err: unknown): AuthResult {
  if (err instanceof errors.JWTExpired) return { ok: false, code: 'UNAUTHENTICATED', message: 'The token has expired' };
  if (err instanceof errors.JWTClaimValidationFailed) {
    return { ok: false, code: 'UNAUTHENTICATED', message: `The token's "${err.claim}" claim is not accepted (${err.reason})` };
  }
  const code = err instanceof errors.JOSEError ? err.code : undefined;
  // The key set did not answer (down, timed out, not JSON): not the caller's fault.
  if (code === undefined || code === 'ERR_JOSE_GENERIC' || code === 'ERR_JWKS_TIMEOUT' || code === 'ERR_JWKS_INVALID') {
    return {
      ok: false,
      code: 'UNAVAILABLE',
      message: 'The key set (JWT_JWKS_URL) that verifies tokens could not be read; try again later',
    };
  }
  if (code === 'ERR_JWKS_NO_MATCHING_KEY')
    return { ok: false, code: 'UNAUTHENTICATED', message: 'The token is signed with an unknown key' };
  if (code === 'ERR_JOSE_ALG_NOT_ALLOWED')
    return { ok: false, code: 'UNAUTHENTICATED', message: 'The token is signed with an algorithm not accepted here' };
  return { ok: false, code: 'UNAUTHENTICATED', message: 'The token is not valid (malformed or its signature does not verify)' };
}

/**
 * Checks a JWT's signature, `exp`/`nbf` (5 s leeway), issuer and audience when configured, and
 * requires `sub` and a role: `roleClaim` holding viewer, operator or admin (any case; in a list the
 * highest counts). A valid token without a known role is FORBIDDEN; everything else wrong is
 * UNAUTHENTICATED; a key set that cannot be fetched is UNAVAILABLE. The key set is fetched on first
 * use, cached, and fetched again (at most every 30 s) when a token names a key it does not hold.
 */
export function makeJwtVerifier(settings: JwtSettings): JwtVerifier {
  const options: JWTVerifyOptions = {
    issuer: settings.issuer,
    audience: settings.audience,
    clockTolerance: CLOCK_TOLERANCE_S,
    requiredClaims: ['sub'],
  };
  const verify = settings.jwksUrl
    ? (() => {
        const jwks = createRemoteJWKSet(new URL(settings.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000 });
        return (token: string) => jwtVerify(token, jwks, { ...options, algorithms: ASYMMETRIC });
      })()
    : (() => {
        const key = new TextEncoder().encode(settings.secret);
        return (token: string) => jwtVerify(token, key, { ...options, algorithms: ['HS256'] });
      })();
  return async (token) => {
    let payload: JWTPayload;
    try {
      ({ payload } = await verify(token));
    } catch (err) {
      return refusal(err);
    }
    const subject = typeof payload.sub === 'string' ? payload.sub.trim() : '';
    if (!subject) return { ok: false, code: 'UNAUTHENTICATED', message: 'The token has no "sub" claim' };
    const role = roleOf(claim(payload, settings.roleClaim));
    if (!role) {
      return { ok: false, code: 'FORBIDDEN', message: `The token's "${settings.roleClaim}" claim holds none of viewer, operator, admin` };
    }
    return { ok: true, principal: { subject, role, ...(payload.exp ? { expiresAt: payload.exp * 1000 } : {}) } };
  };
}
