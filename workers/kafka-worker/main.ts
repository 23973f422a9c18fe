#!/usr/bin/env node
import { ConfigError, SECOND } from '../../src/config';
import { coerceError } from '../../src/errors';
import { makeLogger } from '../../src/logger';
import { loadWorkerConfig } from './config';
import { SecretsFileError } from './secrets';
import { startWorker, type KafkaWorker } from './worker';

/** How long a graceful stop may take before the process exits anyway (code 1). */
const STOP_TIMEOUT_MS = 30 * SECOND;

/**
 * The jobwire Kafka worker's process entry (`npm run worker`, `jobwire-worker`): configuration from
 * the environment (a bad value exits 2, naming the variable), the worker, and signals. First SIGTERM
 * or SIGINT: graceful stop (runs executing here are reported FAILED TRANSIENT "worker stopping", so
 * jobwire retries them), exit 0; a second signal, or a stop longer than 30 s: exit 1 at once. A
 * signal during start-up stops the worker once it is up.
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadWorkerConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const logger = makeLogger(config.logLevel);
  const stop = (worker: KafkaWorker) => {
    const force = setTimeout(() => {
      logger.error(`graceful stop took longer than ${STOP_TIMEOUT_MS / SECOND} s: exiting`);
      process.exit(1);
    }, STOP_TIMEOUT_MS);
    force.unref();
    // stop() never rejects.
    void worker.stop().then(() => process.exit(0));
  };
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'stopping (send the signal again to force)');
    void starting.then(stop, () => undefined);
  };
  // Listening before start-up: with no listener, a signal during start-up kills the process outright.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const starting = startWorker(config, { logger });
  try {
    await starting;
  } catch (err) {
    if (err instanceof SecretsFileError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}

main().catch((err) => {
  const e = coerceError(err);
  console.error('jobwire worker failed to start:', e.message);
  console.error(e.stack);
  process.exit(1);
});
