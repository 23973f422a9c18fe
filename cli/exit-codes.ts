import { JobwireError, type RunStatus } from '../client';

/**
 * The exit codes of `jobwire`, one per outcome a script may want to tell apart. `watch` (and
 * `start --watch`) exit with the run's outcome; every command exits with the code of the error that
 * stopped it. The README's "Command line" section has this table.
 */
export const EXIT = {
  /** Done; for `watch`: the run SUCCEEDED. */
  OK: 0,
  /** `watch`: the run FAILED (for good: a PERMANENT error, or its attempts exhausted). */
  RUN_FAILED: 1,
  /** Bad command line: unknown command or option, a missing argument, a value the CLI refuses. */
  USAGE: 2,
  /** `watch`: the run was CANCELLED. */
  RUN_CANCELLED: 3,
  /** NOT_FOUND: no such job or run. */
  NOT_FOUND: 4,
  /** UNAUTHENTICATED: no credential, or one the gateway refuses. */
  UNAUTHENTICATED: 5,
  /** FORBIDDEN: the credential's role may not do this. */
  FORBIDDEN: 6,
  /** The gateway refused the request: BAD_USER_INPUT, CONFLICT (e.g. retrying a run that did not fail), a validation error. */
  REFUSED: 7,
  /** The gateway could not be reached (NETWORK) or a backend it needs is down (UNAVAILABLE). */
  UNREACHABLE: 8,
  /** Anything else (INTERNAL_SERVER_ERROR, an unexpected answer). */
  ERROR: 9,
  /** Interrupted (Ctrl-C), as shells report SIGINT. */
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

const BY_CODE: Record<string, ExitCode> = {
  NOT_FOUND: EXIT.NOT_FOUND,
  UNAUTHENTICATED: EXIT.UNAUTHENTICATED,
  FORBIDDEN: EXIT.FORBIDDEN,
  BAD_USER_INPUT: EXIT.REFUSED,
  CONFLICT: EXIT.REFUSED,
  GRAPHQL_VALIDATION_FAILED: EXIT.REFUSED,
  GRAPHQL_PARSE_FAILED: EXIT.REFUSED,
  NETWORK: EXIT.UNREACHABLE,
  UNAVAILABLE: EXIT.UNREACHABLE,
};

/** The exit code for an error code of the gateway (`extensions.code`, or the client's `NETWORK`). */
export function exitCodeForErrorCode(code: string): ExitCode {
  return BY_CODE[code] ?? EXIT.ERROR;
}

/** The exit code for whatever stopped a command: a {@link JobwireError} by its code, a {@link UsageError}, else {@link EXIT.ERROR}. */
export function exitCodeForError(e: unknown): ExitCode {
  if (e instanceof UsageError) return EXIT.USAGE;
  if (e instanceof Interrupted) return EXIT.INTERRUPTED;
  if (e instanceof CliError) return e.exitCode;
  if (e instanceof JobwireError) return exitCodeForErrorCode(e.code);
  return EXIT.ERROR;
}

/**
 * The exit code for a run that has ended: 0 SUCCEEDED, {@link EXIT.RUN_FAILED}, {@link EXIT.RUN_CANCELLED};
 * `undefined` while it has not ended.
 */
export function exitCodeForRun(status: RunStatus): ExitCode | undefined {
  if (status === 'SUCCEEDED') return EXIT.OK;
  if (status === 'FAILED') return EXIT.RUN_FAILED;
  if (status === 'CANCELLED') return EXIT.RUN_CANCELLED;
  return undefined;
}

/** A command line the CLI refuses (exit {@link EXIT.USAGE}); the message says what to fix. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** An error found by the CLI itself that maps to a gateway-like code (e.g. a job name that matches no job). */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    /** Shown like a gateway's `extensions.code`. */
    readonly code: string,
    readonly exitCode: ExitCode = exitCodeForErrorCode(code),
  ) {
    super(message);
  }
}

/** Ctrl-C: the command stops and exits {@link EXIT.INTERRUPTED}, printing nothing more. */
export class Interrupted extends Error {
  override name = 'Interrupted';
  constructor() {
    super('interrupted');
  }
}
