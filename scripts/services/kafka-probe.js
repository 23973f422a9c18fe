// Asks a Kafka broker for its cluster metadata with the project's own client (kafkajs), until it
// answers or the time is up. Used by kafka.sh: a broker is "ready" only when a real client request
// succeeds, not when a port opens or a log line appears.
//
//   node scripts/services/kafka-probe.js BROKERS [TIMEOUT_S] [PID]
//
// BROKERS    comma-separated host:port list, e.g. 127.0.0.1:9092
// TIMEOUT_S  how long to keep asking (default 0: ask once)
// PID        a broker process to watch: give up at once if it dies
// Prints a progress line every 5 s while waiting. Exit codes: 0 answered (prints the cluster id and
// broker count), 1 no answer in time, 2 the watched process died, 3 kafkajs is not installed.
'use strict';

let kafkajs;
try {
  kafkajs = require('kafkajs');
} catch {
  console.error('kafkajs is not installed: run npm ci first');
  process.exit(3);
}
const { Kafka, logLevel } = kafkajs;

const [brokers = '127.0.0.1:9092', timeoutArg = '0', pidArg] = process.argv.slice(2);
const deadline = Date.now() + Number(timeoutArg) * 1000;
const started = Date.now();
const kafka = new Kafka({
  clientId: 'jobwire-services-probe',
  brokers: brokers.split(','),
  logLevel: logLevel.NOTHING,
  connectionTimeout: 1000,
  requestTimeout: 3000,
  retry: { retries: 0 },
});

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function askOnce() {
  const admin = kafka.admin();
  try {
    await admin.connect();
    return await admin.describeCluster();
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function main() {
  let lastReport = 0;
  for (;;) {
    try {
      const cluster = await askOnce();
      console.log(
        `answering: cluster ${cluster.clusterId}, ${cluster.brokers.length} broker(s), after ${Math.round((Date.now() - started) / 1000)} s`,
      );
      return 0;
    } catch (err) {
      if (pidArg && !alive(Number(pidArg))) {
        console.error(`broker process ${pidArg} exited`);
        return 2;
      }
      if (Date.now() >= deadline) {
        console.error(`no answer from ${brokers}: ${err.message}`);
        return 1;
      }
      if (Date.now() - lastReport >= 5000) {
        if (lastReport) console.log(`still waiting for ${brokers} (${Math.round((Date.now() - started) / 1000)} s): ${err.message}`);
        lastReport = Date.now();
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

main().then((code) => process.exit(code));
