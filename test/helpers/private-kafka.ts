import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports';

/** A Kafka broker of one test's own (scripts/services/kafka.sh on free ports), which it may stop and start. */
export interface PrivateKafka {
  /** `127.0.0.1:<port>` */
  broker: string;
  /** Stops the broker (SIGTERM; its data stays). */
  stop(): Promise<void>;
  /** Starts it again on the same ports and data; resolves once a client request succeeds (10–30 s). */
  start(): Promise<void>;
  /** Stops it and deletes its directory. Safe to call twice. */
  destroy(): Promise<void>;
}

const SCRIPT = path.resolve(__dirname, '../../scripts/services/kafka.sh');

/** Whether the broker's jars are cached (`npm run services:up` fetched them): a private broker then starts offline. */
export function canRunPrivateKafka(): boolean {
  const cache = process.env.JOBWIRE_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'jobwire');
  const lib = path.join(cache, 'kafka-4.4.0', 'lib');
  return spawnSync('java', ['-version']).status === 0 && fs.existsSync(lib) && fs.readdirSync(lib).length > 0;
}

/**
 * Starts a single-node KRaft broker of the test's own with the project's script, on two free ports
 * and a temporary run directory (never the shared broker's). A cold start takes 10–30 s.
 */
export async function startPrivateKafka(): Promise<PrivateKafka> {
  const [port, controller] = [await freePort(), await freePort()];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-private-kafka-'));
  const env = {
    ...process.env,
    KAFKA_PORT: String(port),
    KAFKA_CONTROLLER_PORT: String(controller),
    KAFKA_RUN_DIR: dir,
    KAFKA_HEAP_OPTS: '-Xmx384m -Xms64m',
    KAFKA_STOP_TIMEOUT: '15',
  };
  // Asynchronous: a gateway in the test's own process keeps running while the broker starts or stops.
  const sh = (cmd: 'up' | 'down') =>
    new Promise<void>((resolve, reject) =>
      execFile('bash', [SCRIPT, cmd], { env, encoding: 'utf8' }, (err, stdout, stderr) =>
        err ? reject(new Error(`kafka.sh ${cmd} failed: ${stderr || stdout || err.message}`)) : resolve(),
      ),
    );
  await sh('up');
  let destroyed = false;
  return {
    broker: `127.0.0.1:${port}`,
    stop: () => sh('down'),
    start: () => sh('up'),
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      try {
        await sh('down');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
