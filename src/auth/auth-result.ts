import type { Principal } from './roles';

/** Why a caller is refused: no or bad credentials, a role too low, or the key set is unreachable. */
export type RefusalCode = 'UNAUTHENTICATED' | 'FORBIDDEN' | 'UNAVAILABLE';

/** What checking a caller's credentials came to. */
export type AuthResult = { ok: true; principal: Principal } | { ok: false; code: RefusalCode; message: string };
