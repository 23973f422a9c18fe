/**
 * Who may do what. Three roles, each including the one below it:
 *
 * | role | may |
 * | --- | --- |
 * | `VIEWER` | every query and subscription |
 * | `OPERATOR` | also start, stop and retry runs, tune compute, test source connections, replay and discard dead letters |
 * | `ADMIN` | also create, update and delete jobs |
 *
 * The GraphQL edge declares the role of every root field (resolvers/common/requires-role.ts) and
 * checks it before anything runs (src/graphql/authorization.ts).
 */
export enum Role {
  VIEWER = 'VIEWER',
  OPERATOR = 'OPERATOR',
  ADMIN = 'ADMIN',
}

/** Lowest first: a role may do what every role before it may. */
const ORDER: readonly Role[] = [Role.VIEWER, Role.OPERATOR, Role.ADMIN];

/** True when `have` may do what `need` may (the hierarchy VIEWER < OPERATOR < ADMIN). */
export function roleAtLeast(have: Role, need: Role): boolean {
  return ORDER.indexOf(have) >= ORDER.indexOf(need);
}

/** The higher of two roles. */
export function higherRole(a: Role, b: Role): Role {
  return roleAtLeast(a, b) ? a : b;
}

/** `viewer`, `Operator`, `ADMIN` … (any case, surrounding blanks ignored) as a role; null for anything else. */
export function parseRole(value: unknown): Role | null {
  if (typeof value !== 'string') return null;
  const upper = value.trim().toUpperCase();
  return (ORDER as readonly string[]).includes(upper) ? (upper as Role) : null;
}

/** Who is calling, as every resolver sees it (`context.principal`) and `Query.me` returns it. */
export interface Principal {
  /** A JWT's `sub`, `token:<name>` for an API token, `local` for the embedded default, `anonymous` with JOBWIRE_AUTH=off. */
  readonly subject: string;
  readonly role: Role;
  /** When the credential stops being valid (ms since the epoch; a JWT's `exp`): an open WebSocket is closed then. */
  readonly expiresAt?: number;
}

/** The caller of the embedded default (no credentials configured, loopback only): an admin. */
export const LOCAL_PRINCIPAL: Principal = Object.freeze({ subject: 'local', role: Role.ADMIN });
/** Every caller with JOBWIRE_AUTH=off: an admin. */
export const ANONYMOUS_PRINCIPAL: Principal = Object.freeze({ subject: 'anonymous', role: Role.ADMIN });
