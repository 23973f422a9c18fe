/**
 * Failure vocabulary of the ingestion engine. Every failure of {@link ingest} surfaces as an
 * {@link IngestError} whose `kind` tells the caller whether retrying can help.
 */

/** `TRANSIENT`: retrying later may succeed; `PERMANENT`: it will not; `CANCELLED`: the caller aborted. */
export type IngestErrorKind = 'TRANSIENT' | 'PERMANENT' | 'CANCELLED';

/**
 * The only error type {@link ingest} rejects with.
 * `message` is safe to show to users (it never contains HTTP header values or URL credentials);
 * `details` carries the underlying cause's message, when there is one, for logs.
 */
export class IngestError extends Error {
  readonly kind: IngestErrorKind;
  readonly details?: string;

  constructor(kind: IngestErrorKind, message: string, details?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IngestError';
    this.kind = kind;
    if (details !== undefined) this.details = details;
  }
}

/** Shorthand for a PERMANENT {@link IngestError}. */
export function permanent(message: string, details?: string, cause?: unknown): IngestError {
  return new IngestError('PERMANENT', message, details, { cause });
}

/** Shorthand for a TRANSIENT {@link IngestError}. */
export function transient(message: string, details?: string, cause?: unknown): IngestError {
  return new IngestError('TRANSIENT', message, details, { cause });
}

/** The CANCELLED error {@link ingest} rejects with once its signal is aborted. */
export function cancelled(): IngestError {
  return new IngestError('CANCELLED', 'ingest cancelled');
}

// Socket-level failures that a later attempt may not hit (network blips, restarts, DNS hiccups).
const TRANSIENT_SYSCALL_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EADDRNOTAVAIL',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** The `code` of an error or of any error in its `cause` chain that is a known transient network code, if any. */
export function transientNetworkCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT_SYSCALL_CODES.has(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Whether a PostgreSQL SQLSTATE means the statement's *data* was at fault (class 22 data exception,
 * class 23 integrity violation), so that the offending row, not the ingest, should fail.
 */
export function isRowLevelPgError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/**
 * Maps a database error to an {@link IngestError}: connection loss, server shutdown, resource
 * exhaustion and serialization/deadlock failures are TRANSIENT; everything else (syntax,
 * permissions, missing objects) is PERMANENT. An existing IngestError is returned unchanged.
 */
export function fromDbError(err: unknown, doing: string): IngestError {
  if (err instanceof IngestError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  const sqlState = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
  const isTransient =
    (sqlState !== undefined && /^(08|40|53|57P)/.test(sqlState)) ||
    transientNetworkCode(err) !== undefined ||
    // node-postgres reports a dropped socket without a code, and refuses every later statement on
    // that client ("Client has encountered a connection error and is not queryable").
    /connection terminated|server closed the connection|timeout exceeded when trying to connect|connection ended unexpectedly|connection error and is not queryable|client was closed and is not queryable/i.test(
      msg,
    );
  const text = `${doing} failed: ${msg}${sqlState ? ` (SQLSTATE ${sqlState})` : ''}`;
  return new IngestError(isTransient ? 'TRANSIENT' : 'PERMANENT', text, msg, { cause: err });
}
