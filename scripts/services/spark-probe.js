// Asks a Spark standalone cluster whether it can take a submission, until it can or the time is
// up. Used by spark.sh: the cluster is "ready" only when real requests say so, not when a port
// opens or a log line appears. Needs only Node (global fetch), no package.
//
//   node scripts/services/spark-probe.js MASTER_UI_URL REST_URL WORKER_UI_URL [TIMEOUT_S] [PID…]
//
// Ready means all of:
// - GET MASTER_UI_URL/json/ says "status": "ALIVE" and lists at least one ALIVE worker;
// - GET REST_URL/v1/submissions/readyz answers success (the REST submission server is up);
// - GET WORKER_UI_URL/json/ answers (the worker's UI serves the drivers' logs).
// TIMEOUT_S  how long to keep asking (default 0: ask once)
// PID…       processes to watch (master, worker): give up at once if one dies
// Prints a progress line every 5 s while waiting. Exit codes: 0 ready (prints what it saw),
// 1 not ready in time, 2 a watched process died, 4 something answers that is not a Spark master.
'use strict';
/* global fetch, AbortSignal -- Node 20's own */

const [masterUi, restUrl, workerUi, timeoutArg = '0', ...pids] = process.argv.slice(2);
if (!masterUi || !restUrl || !workerUi) {
  console.error('usage: spark-probe.js MASTER_UI_URL REST_URL WORKER_UI_URL [TIMEOUT_S] [PID…]');
  process.exit(64);
}
const deadline = Date.now() + Number(timeoutArg) * 1000;
const started = Date.now();

class NotSpark extends Error {}

function alive(pid) {
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch {
    return false;
  }
}

async function getJson(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000), redirect: 'manual' });
  const text = await res.text();
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  try {
    return JSON.parse(text);
  } catch {
    throw new NotSpark(`${url} answers, but not with JSON: not a Spark master or worker`);
  }
}

async function askOnce() {
  const master = await getJson(`${masterUi}/json/`);
  if (typeof master.url !== 'string' || !master.url.startsWith('spark://')) {
    throw new NotSpark(`${masterUi}/json/ answers JSON without a spark:// url: not a Spark master`);
  }
  if (master.status !== 'ALIVE') throw new Error(`master status ${master.status}`);
  const workers = (master.workers ?? []).filter((w) => w.state === 'ALIVE');
  if (workers.length === 0) throw new Error('no ALIVE worker registered yet');
  const ready = await getJson(`${restUrl}/v1/submissions/readyz`);
  if (ready.success !== true) throw new Error(`REST readyz: ${JSON.stringify(ready)}`);
  await getJson(`${workerUi}/json/`);
  const cores = workers.reduce((n, w) => n + w.cores, 0);
  const memory = workers.reduce((n, w) => n + w.memory, 0);
  return `${master.url} ALIVE, ${workers.length} worker(s), ${cores} cores, ${memory} MB, REST ${restUrl}`;
}

async function main() {
  let lastReport = 0;
  for (;;) {
    try {
      const what = await askOnce();
      console.log(`ready: ${what}, after ${Math.round((Date.now() - started) / 1000)} s`);
      return 0;
    } catch (err) {
      if (err instanceof NotSpark) {
        console.error(err.message);
        return 4;
      }
      const dead = pids.find((pid) => !alive(pid));
      if (dead) {
        console.error(`process ${dead} exited`);
        return 2;
      }
      const reason = err.cause?.code ?? err.message;
      if (Date.now() >= deadline) {
        console.error(`not ready: ${reason}`);
        return 1;
      }
      if (Date.now() - lastReport >= 5000) {
        if (lastReport) console.log(`still waiting (${Math.round((Date.now() - started) / 1000)} s): ${reason}`);
        lastReport = Date.now();
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

main().then((code) => process.exit(code));
