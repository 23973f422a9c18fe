import 'reflect-metadata';
import { ConfigError, loadConfig, SECOND } from './config';
import { createApp, type App } from './app';
import { makeLogger } from './logger';
import { coerceError } from './errors';

/** How long a graceful stop may take before the process exits anyway (code 1). */
const STOP_TIMEOUT_MS = 30 * SECOND;

/**
 * Process entry: config, the app, and signals (first: graceful stop; second: forced exit, code 1).
 * The signal handlers are in place before start-up, so a signal while the gateway starts (or right
 * after it logged "jobwire ready") stops it gracefully once it is up instead of killing it half-way.
 * A stdout nobody reads any more (`npm start | tee log`, then Ctrl-C) does not keep it from
 * stopping: logging just ends (see `stdoutDestination` in logger.ts).
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const logger = makeLogger(config.logLevel);
  const stop = (app: App) => {
    // A stop that hangs (a stuck socket, a slow query) must not keep the process alive forever.
    const force = setTimeout(() => {
      logger.error(`graceful stop took longer than ${STOP_TIMEOUT_MS / SECOND} s: exiting`);
      process.exit(1);
    }, STOP_TIMEOUT_MS);
    force.unref();
    app.stop().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err: coerceError(err) }, 'stop failed');
        process.exit(1);
      },
    );
  };
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'stopping (send the signal again to force)');
    // While the gateway starts, its stop waits until it is up: only App.stop() releases what start-up
    // opened. A start that fails exits through main().catch. (Handlers run from the event loop, so
    // `starting` is always assigned by the time one runs.)
    void starting.then(stop, () => undefined);
  };
  // Listening before start-up: with no listener, a signal during start-up kills the process outright.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const starting = createApp(config, { logger });
  await starting;
}

main().catch((err) => {
  console.error('jobwire failed to start:', coerceError(err).message);
  console.error(coerceError(err).stack);
  process.exit(1);
});
