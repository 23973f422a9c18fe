import 'reflect-metadata';
import { ConfigError, loadConfig } from './config';
import { createApp } from './app';
import { makeLogger } from './logger';
import { coerceError } from './errors';

/** Process entry: config, the app, and signals (first: graceful stop; second: forced exit). */
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
  const app = await createApp(config, { logger });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'stopping (send the signal again to force)');
    // A stop that hangs (a stuck socket, a slow query) must not keep the process alive forever.
    const force = setTimeout(() => {
      logger.error('graceful stop took longer than 30 s: exiting');
      process.exit(1);
    }, 30_000);
    force.unref();
    app.stop().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err: coerceError(err) }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

main().catch((err) => {
  console.error('jobwire failed to start:', coerceError(err).message);
  console.error(coerceError(err).stack);
  process.exit(1);
});
