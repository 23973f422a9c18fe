import type { RequestHandler } from 'express';
import type { AuthResult } from '../auth/auth-result';
import type { Authenticator } from '../auth/authenticator';
import type { Logger } from '../logger';

/** The HTTP status of a refusal: 401 no or bad credentials, 403 a token without a role, 503 the key set is down. */
export function refusalStatus(code: Exclude<AuthResult, { ok: true }>['code']): number {
  return code === 'UNAUTHENTICATED' ? 401 : code === 'FORBIDDEN' ? 403 : 503;
}

/**
 * Express middleware in front of /graphql: authenticates the `Authorization` header before the body
 * is even parsed, and puts the principal in `res.locals.principal` for the GraphQL context. A refusal
 * is answered at once, GraphQL-shaped (`{ errors: [{ message, extensions: { code } }] }`), with 401
 * (and `WWW-Authenticate: Bearer`), 403 or 503; nothing of the operation runs.
 */
export function authenticateRequests(authenticator: Authenticator, logger: Logger): RequestHandler {
  return (req, res, next) => {
    authenticator.fromHeader(req.headers.authorization).then((result) => {
      if (result.ok) {
        res.locals.principal = result.principal;
        return next();
      }
      const status = refusalStatus(result.code);
      const log = { component: 'auth', requestId: res.locals.requestId as string, code: result.code, reason: result.message };
      if (status === 503) logger.warn(log, 'request refused: credentials could not be checked');
      else logger.info(log, 'request refused');
      if (status === 401) res.setHeader('www-authenticate', 'Bearer realm="jobwire"');
      res.status(status).json({ errors: [{ message: result.message, extensions: { code: result.code } }] });
    }, next);
  };
}
