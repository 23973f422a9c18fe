import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevelName } from './config';

export type { Logger };

/**
 * A log destination writing each line straight to `stdout` (default `process.stdout`), that goes
 * quiet for good at the stream's first error instead of crashing or hanging the process. The usual
 * one is EPIPE: `npm start | tee log`, then Ctrl-C, and tee is gone while the gateway still logs its
 * shutdown; EIO when the terminal has closed. Either way nobody can read the lines any more.
 *
 * Nothing is buffered here (`process.stdout` writes files, and pipes and terminals on Linux,
 * synchronously), so there is nothing to flush at exit. pino's default destination buffers, and
 * flushes in an exit hook that retries a broken pipe forever: the process never exited.
 */
export function stdoutDestination(stdout: NodeJS.WriteStream = process.stdout): DestinationStream {
  let broken = false;
  stdout.on('error', () => {
    broken = true;
  });
  return {
    write(line: string) {
      if (!broken && stdout.writable) stdout.write(line);
    },
  };
}

/** One stdout destination per process: every logger shares it (and its single error listener). */
let processStdout: DestinationStream | undefined;

/**
 * The gateway's own structured log: JSON lines on `destination`, by default stdout through
 * {@link stdoutDestination} (logging stops, the gateway carries on, when stdout breaks). Paths that
 * may hold secrets are redacted as a second line of defence: code must never log job params in the
 * first place.
 */
export function makeLogger(level: LogLevelName, bindings: Record<string, unknown> = {}, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'jobwire', ...bindings },
    redact: {
      paths: [
        '*.params',
        '*.source.params',
        '*.headers',
        '*.password',
        '*.passwd',
        '*.pwd',
        '*.authorization',
        '*.auth',
        '*.apiKey',
        '*.api_key',
        '*.token',
        '*.secret',
        'params',
        'headers',
      ],
      censor: '***',
    },
  };
  return pino(options, destination ?? (processStdout ??= stdoutDestination()));
}

/**
 * Wraps `report` so that a storm of the same failure (every connection of a pool, every publish
 * while Redis is down) logs the first occurrence at once and then at most one line per
 * `intervalMs`, saying how many were held back meanwhile (`suppressed`). Never throws.
 */
export function throttled<A extends unknown[]>(intervalMs: number, report: (suppressed: number, ...args: A) => void): (...args: A) => void {
  let last = -Infinity;
  let suppressed = 0;
  return (...args: A) => {
    const now = Date.now();
    if (now - last < intervalMs) {
      suppressed++;
      return;
    }
    last = now;
    const held = suppressed;
    suppressed = 0;
    try {
      report(held, ...args);
    } catch {
      // A logger that fails must not take the caller down.
    }
  };
}
