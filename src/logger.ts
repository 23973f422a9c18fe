import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevelName } from './config';

export type { Logger };

/**
 * The gateway's own structured log (JSON lines on stdout). Paths that may hold secrets are redacted
 * as a second line of defence: code must never log job params in the first place.
 */
export function makeLogger(level: LogLevelName, bindings: Record<string, unknown> = {}, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'jobwire', ...bindings },
    redact: {
      paths: ['*.params', '*.source.params', '*.headers', '*.password', '*.authorization', 'params', 'headers'],
      censor: '***',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
