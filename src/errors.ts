/** Stable error codes. The GraphQL edge maps them to `extensions.code`. */
export enum ErrorCode {
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  NOT_FOUND = 'NOT_FOUND',
  CONFLICT = 'CONFLICT',
  FORBIDDEN = 'FORBIDDEN',
  UNAVAILABLE = 'UNAVAILABLE',
  INTERNAL_SERVER_ERROR = 'INTERNAL_SERVER_ERROR',
}

/** An error meant for the client: its message is safe to show, its code is stable. */
export class AppError extends Error {
  readonly code: ErrorCode;
  /** Dotted path of the offending input field, e.g. `input.compute.minWorkers`. */
  readonly field?: string;
  constructor(code: ErrorCode, message: string, options: { field?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.field = options.field;
  }
}

export const badInput = (field: string, message: string) => new AppError(ErrorCode.BAD_USER_INPUT, `${field}: ${message}`, { field });
export const notFound = (what: string, id: string) => new AppError(ErrorCode.NOT_FOUND, `${what} ${JSON.stringify(id)} does not exist`);
export const conflict = (message: string) => new AppError(ErrorCode.CONFLICT, message);
export const unavailable = (message: string) => new AppError(ErrorCode.UNAVAILABLE, message);

/** Turns anything thrown into an Error, so background code can always log `.message` and `.stack`. */
export function coerceError(err: unknown): Error {
  if (err instanceof Error) return err;
  if (typeof err === 'string') return new Error(err);
  try {
    return new Error(`Non-error thrown: ${JSON.stringify(err)}`);
  } catch {
    return new Error(`Non-error thrown: ${String(err)}`);
  }
}

/** Prefixes an error's message with where it happened (component and ids) without losing its stack. */
export function withContext(err: unknown, context: string): Error {
  const e = coerceError(err);
  const wrapped = new Error(`${context}: ${e.message}`, { cause: e });
  wrapped.stack = `${wrapped.name}: ${wrapped.message}\n${(e.stack ?? '').split('\n').slice(1).join('\n')}`;
  return wrapped;
}

/** What {@link withTimeout} rejects with. */
export class TimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TimeoutError';
  }
}

/** `p`, or a rejection with {@link TimeoutError} ("<what> did not answer within …") after `ms`. `p` itself is not cancelled. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} did not answer within ${ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
