/**
 * Fan-out bench: one run watched by many WebSocket subscribers.
 *
 *   npx ts-node --swc bench/fanout.ts                      # 1000 subscribers, 200 events, runMetrics
 *   SUBSCRIBERS=200 EVENTS=50 SUBSCRIPTION=runUpdated npx ts-node --swc bench/fanout.ts
 *
 * Starts one gateway (createApp on a fresh PostgreSQL database created for the bench and dropped
 * after, Redis with a unique channel prefix, workers off), creates a job and a run, opens
 * SUBSCRIBERS graphql-ws clients (one socket each, in CLIENT_THREADS worker threads so the clients'
 * own parsing does not run on the gateway's event loop), waits until each has its snapshot, then
 * applies EVENTS `run.metrics` events (recordsProcessed = sequence number) every EVENT_GAP_MS and
 * measures, per client and event, receive time − emit time (emit = just before `runEvents.apply`,
 * so the PostgreSQL commit is included). Beside it, the raw Redis baseline: publish → receive of
 * REDIS_MESSAGES small JSON messages over two ioredis connections. Prints p50/p90/p99/max and the
 * ratios. Everything is bounded (BENCH_TIMEOUT_MS, default 180 s) and cleaned up: sockets, threads,
 * the app, the database. Exit code 0 when every subscriber got every event, 1 otherwise.
 *
 * See bench/README.md for how to read the figures.
 */
import 'reflect-metadata';
import crypto from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import Redis from 'ioredis';
import { Client as PgClient } from 'pg';
import { WebSocket as WsSocket } from 'ws';
import { createApp, type App } from '../src/app';
import { loadConfig } from '../src/config';
import { DataFormat, ExecutionBackend, RunStatus, SourceType, type MetricsView } from '../src/domain';
import { coerceError } from '../src/errors';
import { Topic } from '../src/events/topics';
import { ADMIN_URL, REDIS_URL, urlFor } from '../test/helpers/db';

function intEnv(name: string, def: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name}=${raw}: expected an integer >= ${min}`);
  return n;
}

const SUBSCRIBERS = intEnv('SUBSCRIBERS', 1000);
const EVENTS = intEnv('EVENTS', 200);
const EVENT_GAP_MS = intEnv('EVENT_GAP_MS', 20, 0);
const REDIS_MESSAGES = intEnv('REDIS_MESSAGES', 2000);
const REDIS_GAP_MS = intEnv('REDIS_GAP_MS', 2, 0);
const CLIENT_THREADS = Math.min(intEnv('CLIENT_THREADS', 1), SUBSCRIBERS);
const TIMEOUT_MS = intEnv('BENCH_TIMEOUT_MS', 180_000);
/** Set once cleaning up began (timeout, Ctrl-C): the event loop of the bench stops emitting. */
let stopping = false;
/** Longest wait for one cleanup step before going on to the next. */
const CLEANUP_STEP_MS = 15_000;
const SUBSCRIPTION = process.env.SUBSCRIPTION ?? 'runMetrics';
if (SUBSCRIPTION !== 'runMetrics' && SUBSCRIPTION !== 'runUpdated') throw new Error('SUBSCRIPTION must be runMetrics or runUpdated');

/** Absolute wall-clock milliseconds with sub-millisecond resolution, comparable across worker threads. */
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

// ---------- statistics ----------

interface Summary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}
function summarize(values: number[]): Summary {
  const v = Float64Array.from(values).sort();
  const at = (q: number) => (v.length ? v[Math.min(v.length - 1, Math.ceil(q * v.length) - 1)] : NaN);
  return { count: v.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: v.length ? v[v.length - 1] : NaN };
}
const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '—').padStart(9);
const row = (label: string, s: Summary) =>
  console.log(`${label.padEnd(46)}${String(s.count).padStart(8)}${ms(s.p50)}${ms(s.p90)}${ms(s.p99)}${ms(s.max)}`);

// ---------- raw Redis baseline ----------

/** Publish → receive latency of small JSON messages over two ioredis connections (one subscribed). */
async function redisBaseline(prefix: string): Promise<number[]> {
  const pub = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const sub = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await Promise.all([pub.connect(), sub.connect()]);
    const channel = `${prefix}raw-baseline`;
    const latencies: number[] = [];
    let resolveAll!: () => void;
    const all = new Promise<void>((r) => (resolveAll = r));
    sub.on('message', (_ch: string, message: string) => {
      const t = now();
      const { sentAt } = JSON.parse(message) as { seq: number; sentAt: number };
      latencies.push(t - sentAt);
      if (latencies.length === REDIS_MESSAGES) resolveAll();
    });
    await sub.subscribe(channel);
    for (let seq = 1; seq <= REDIS_MESSAGES; seq++) {
      await pub.publish(channel, JSON.stringify({ seq, sentAt: now(), recordsProcessed: seq, runId: 'baseline' }));
      if (REDIS_GAP_MS) await sleep(REDIS_GAP_MS);
    }
    await Promise.race([all, sleep(5000)]);
    return latencies;
  } finally {
    pub.disconnect();
    sub.disconnect();
  }
}

// ---------- the subscribers (plain JS, run in worker threads) ----------

/**
 * One worker thread holds `count` graphql-ws clients, one socket each. It connects them in batches
 * of 50 (each batch waits for its snapshots, so the gateway's accept backlog never overflows), then
 * records the receive time of every sequence number per client, and on `finish` waits (at most
 * 10 s) for the last one before sending its table of receive times back.
 */
const CLIENT_THREAD_JS = `
const { parentPort, workerData } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');
const { createClient } = require(workerData.graphqlWs);
const WebSocket = require(workerData.ws);
const now = () => performance.timeOrigin + performance.now();
const { url, query, variables, count, events, field } = workerData;
const width = events + 1;
const recv = new Float64Array(count * width).fill(NaN);
const got = new Int32Array(count);          // events received per client (snapshot excluded)
const ok = new Uint8Array(count);           // 1 once the client has its snapshot
const clients = [];
const errors = [];
let ready = 0, failed = 0;
const seqOf = (data) => field === 'runMetrics' ? data?.runMetrics?.recordsProcessed : data?.runUpdated?.metrics?.recordsProcessed;

function open(i) {
  return new Promise((resolve) => {
    let first = true;
    const done = (ok, why) => { if (!first) return; first = false; ok ? ready++ : (failed++, errors.length < 5 && errors.push(why)); resolve(); };
    const timer = setTimeout(() => done(false, 'no snapshot within 30 s'), 30000);
    const client = createClient({ url, webSocketImpl: WebSocket, lazy: true, retryAttempts: 0 });
    clients.push(client);
    client.subscribe({ query, variables }, {
      next: (msg) => {
        const t = now();
        if (msg.errors) { clearTimeout(timer); return done(false, JSON.stringify(msg.errors)); }
        const seq = seqOf(msg.data);
        if (first) { clearTimeout(timer); ok[i] = 1; return done(true); }
        if (Number.isInteger(seq) && seq > 0 && seq <= events && Number.isNaN(recv[i * width + seq])) { recv[i * width + seq] = t; got[i]++; }
      },
      error: (err) => { clearTimeout(timer); done(false, String(err && (err.message || err.reason || err.code || err))); },
      complete: () => undefined,
    });
  });
}

parentPort.on('message', async (msg) => {
  if (msg.type === 'ping') parentPort.postMessage({ type: 'pong', t: msg.t, tw: now() });
  if (msg.type === 'open') {
    for (let i = 0; i < count; i += 50) {
      const batch = [];
      for (let j = i; j < Math.min(count, i + 50); j++) batch.push(open(j));
      await Promise.all(batch);
    }
    parentPort.postMessage({ type: 'ready', ready, failed, errors });
  }
  if (msg.type === 'finish') {
    const until = Date.now() + 10000;
    while (Date.now() < until && !got.every((n, i) => n >= events || !ok[i])) await new Promise((r) => setTimeout(r, 50));
    await Promise.allSettled(clients.map((c) => c.dispose()));
    parentPort.postMessage({ type: 'result', recv }, [recv.buffer]);
  }
});
`;

interface ThreadHandle {
  worker: Worker;
  count: number;
  offsetMs: number;
}

function request<T>(worker: Worker, message: object, replyType: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      worker.off('message', onMessage);
      reject(new Error(`client thread did not answer ${replyType} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (m: { type: string }) => {
      if (m.type !== replyType) return;
      clearTimeout(timer);
      worker.off('message', onMessage);
      resolve(m as T);
    };
    worker.on('message', onMessage);
    worker.postMessage(message);
  });
}

/**
 * The offset of a thread's clock against ours (theirs − ours), from the ping-pong with the smallest
 * round trip; both read the same system clock, so this stays within a few microseconds.
 */
async function clockOffset(worker: Worker): Promise<number> {
  let best = { rtt: Infinity, offset: 0 };
  for (let i = 0; i < 20; i++) {
    const t = now();
    const { tw } = await request<{ tw: number }>(worker, { type: 'ping', t }, 'pong', 5000);
    const back = now();
    if (back - t < best.rtt) best = { rtt: back - t, offset: tw - (t + back) / 2 };
  }
  return best.offset;
}

// ---------- probes inside the gateway ----------

/**
 * Splits the end-to-end figure: when the commit is done and publishing starts (this app's
 * `EventBus.publishAll`), and when the gateway hands each message to a socket (`ws`'s
 * `WebSocket#send`: in this thread only the gateway's server sockets use `ws`; the clients live in
 * worker threads with their own copy of the module). Both see the sequence number in the payload.
 */
function installProbes(app: App, emitAt: Float64Array) {
  const committed: number[] = [];
  const written: number[] = [];
  const lastWrite = new Float64Array(EVENTS + 1);
  const bus = app.bus;
  const publishAll = bus.publishAll;
  bus.publishAll = function (publications) {
    const t = now();
    for (const p of publications) {
      const seq = p.topic === Topic.RUN_METRICS ? (p.payload as MetricsView).recordsProcessed : 0;
      if (seq > 0 && emitAt[seq] > 0) committed.push(t - emitAt[seq]);
    }
    return publishAll.call(this, publications);
  };
  const proto = WsSocket.prototype as unknown as { send: (data: unknown, ...rest: unknown[]) => void };
  const send = proto.send;
  const SEQ = /"recordsProcessed":(\d+)/;
  proto.send = function (this: unknown, data: unknown, ...rest: unknown[]) {
    if (typeof data === 'string') {
      const seq = Number(SEQ.exec(data)?.[1] ?? 0);
      if (seq > 0 && emitAt[seq] > 0) {
        const latency = now() - emitAt[seq];
        written.push(latency);
        if (latency > lastWrite[seq]) lastWrite[seq] = latency;
      }
    }
    return send.call(this, data, ...rest);
  };
  return {
    committed,
    written,
    lastWrite,
    remove() {
      proto.send = send;
      bus.publishAll = publishAll;
    },
  };
}

// ---------- the bench ----------

/** Something to undo at the end, whatever happens; `name` says which step hung or failed. */
interface Cleanup {
  name: string;
  fn: () => Promise<unknown>;
}

async function bench(cleanups: Cleanup[]): Promise<number> {
  const id = crypto.randomBytes(4).toString('hex');
  const dbName = `jobwire_bench_${id}`;
  const prefix = `jobwire:bench:${id}:`;
  console.log(
    `jobwire fan-out bench — ${SUBSCRIBERS} subscribers × ${EVENTS} events every ${EVENT_GAP_MS} ms over ${SUBSCRIPTION}, ${CLIENT_THREADS} client thread(s)`,
  );
  // Figures from a machine busy with other work are not comparable: say how busy it was.
  const load = () =>
    os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  console.log(
    `  machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim() ?? '?'}), load average ${load()}, Node ${process.version}`,
  );

  const admin = new PgClient({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  await admin.end();
  cleanups.push({
    name: `drop database ${dbName}`,
    fn: async () => {
      const c = new PgClient({ connectionString: ADMIN_URL });
      await c.connect();
      await c.query(`drop database if exists ${dbName} with (force)`).finally(() => c.end());
    },
  });

  const t0 = now();
  const app: App = await createApp(
    loadConfig(
      {},
      {
        port: 0,
        host: '127.0.0.1',
        databaseUrl: urlFor(dbName),
        redisUrl: REDIS_URL,
        redisPrefix: prefix,
        workers: false,
        seedDemo: false,
        migrate: true,
        logLevel: 'warn',
      },
    ),
  );
  cleanups.push({ name: 'stop the gateway', fn: () => app.stop() });
  console.log(
    `  gateway ${app.url} on database ${dbName} (created and migrated in ${((now() - t0) / 1000).toFixed(1)} s), Redis prefix ${prefix}`,
  );

  const redis = summarize(await redisBaseline(prefix));

  const job = await app.jobs.create({
    name: `bench fan-out ${id}`,
    backend: ExecutionBackend.LOCAL,
    source: { type: SourceType.LOCAL, params: { path: '/nonexistent/bench.csv' } },
    destination: { schema: 'bench', table: 'fanout' },
    processing: { format: DataFormat.CSV },
  });
  const run = await app.runs.start(job.id);
  await app.runEvents.apply({ runId: run.id, type: 'run.status', payload: { status: RunStatus.RUNNING } });
  const metrics = (seq: number) => ({
    runId: run.id,
    type: 'run.metrics' as const,
    payload: { recordsProcessed: seq, recordsFailed: 0, throughputRps: 0, bytesProcessed: 0, activeWorkers: 1 },
  });
  // Sequence 0 is what every subscriber gets as its snapshot.
  await app.runEvents.apply(metrics(0));

  const query =
    SUBSCRIPTION === 'runMetrics'
      ? 'subscription($runId: ID!) { runMetrics(runId: $runId) { timestamp recordsProcessed recordsFailed throughputRps } }'
      : 'subscription($runId: ID!) { runUpdated(runId: $runId) { id status attempt progress updatedAt metrics { recordsProcessed recordsFailed } stages { name status completedItems } } }';
  const threads: ThreadHandle[] = [];
  for (let i = 0; i < CLIENT_THREADS; i++) {
    const count = Math.floor(SUBSCRIBERS / CLIENT_THREADS) + (i < SUBSCRIBERS % CLIENT_THREADS ? 1 : 0);
    const worker = new Worker(CLIENT_THREAD_JS, {
      eval: true,
      workerData: {
        graphqlWs: require.resolve('graphql-ws'),
        ws: require.resolve('ws'),
        url: `${app.url.replace(/^http/, 'ws')}/graphql`,
        query,
        variables: { runId: run.id },
        count,
        events: EVENTS,
        field: SUBSCRIPTION,
      },
    });
    worker.on('error', (err) => console.error('client thread failed:', coerceError(err).message));
    cleanups.push({ name: `terminate client thread ${i}`, fn: () => worker.terminate() });
    threads.push({ worker, count, offsetMs: await clockOffset(worker) });
  }
  console.log(`  client thread clock offsets: ${threads.map((t) => `${(t.offsetMs * 1000).toFixed(0)} µs`).join(', ')}`);

  const tOpen = now();
  const readies = await Promise.all(
    threads.map((t) => request<{ ready: number; failed: number; errors: string[] }>(t.worker, { type: 'open' }, 'ready', TIMEOUT_MS)),
  );
  const ready = readies.reduce((n, r) => n + r.ready, 0);
  console.log(`  subscribers with their snapshot: ${ready}/${SUBSCRIBERS} in ${((now() - tOpen) / 1000).toFixed(1)} s`);
  for (const e of readies.flatMap((r) => r.errors)) console.log(`    subscribe failed: ${e}`);
  if (ready === 0) throw new Error('no subscriber got its snapshot');

  const emitAt = new Float64Array(EVENTS + 1);
  const probes = installProbes(app, emitAt);
  cleanups.push({ name: 'remove probes', fn: async () => probes.remove() });
  // One more bus subscriber of the same channel, inside the gateway: when Redis hands it the message.
  const arrived: number[] = [];
  const tap = await app.bus.subscribe(Topic.RUN_METRICS, run.id);
  cleanups.push({ name: 'close the bus tap', fn: async () => tap.close() });
  void (async () => {
    for await (const m of tap)
      if (m.recordsProcessed > 0 && emitAt[m.recordsProcessed] > 0) arrived.push(now() - emitAt[m.recordsProcessed]);
  })();
  const start = now() + 100;
  // How busy each event loop was while the events flowed: near 100 % means saturated, so queueing.
  const eluGateway = performance.eventLoopUtilization();
  const eluClients = threads.map((t) => t.worker.performance.eventLoopUtilization());
  for (let seq = 1; seq <= EVENTS && !stopping; seq++) {
    await sleep(start + (seq - 1) * EVENT_GAP_MS - now());
    if (stopping) break;
    emitAt[seq] = now();
    await app.runEvents.apply(metrics(seq));
  }

  const perMessage: number[] = [];
  const lastPerEvent = new Float64Array(EVENTS + 1);
  let missing = 0;
  await sleep(Math.min(2000, 10 * EVENT_GAP_MS + 200));
  const busyGateway = performance.eventLoopUtilization(eluGateway).utilization;
  const busyClients = threads.map((t, i) => t.worker.performance.eventLoopUtilization(eluClients[i]).utilization);
  const results = await Promise.all(threads.map((t) => request<{ recv: Float64Array }>(t.worker, { type: 'finish' }, 'result', 30_000)));
  probes.remove();
  results.forEach(({ recv }, ti) => {
    const width = EVENTS + 1;
    for (let c = 0; c < threads[ti].count; c++) {
      for (let seq = 1; seq <= EVENTS; seq++) {
        const t = recv[c * width + seq];
        if (Number.isNaN(t)) {
          missing++;
          continue;
        }
        const latency = t - threads[ti].offsetMs - emitAt[seq];
        perMessage.push(latency);
        if (latency > lastPerEvent[seq]) lastPerEvent[seq] = latency;
      }
    }
  });

  const gateway = summarize(perMessage);
  console.log(
    `\n${'latency in ms, from the emit of an event'.padEnd(46)}${'count'.padStart(8)}${'p50'.padStart(9)}${'p90'.padStart(9)}${'p99'.padStart(9)}${'max'.padStart(9)}`,
  );
  row('→ committed in PostgreSQL, publish starts', summarize(probes.committed));
  row('→ Redis delivers it to the gateway', summarize(arrived));
  row('→ gateway writes it to each socket', summarize(probes.written));
  row(`→ gateway wrote it to the last of ${ready} sockets`, summarize(Array.from(probes.lastWrite.subarray(1))));
  row('→ each subscriber receives it', gateway);
  row(`→ the last of ${ready} subscribers receives it`, summarize(Array.from(lastPerEvent.subarray(1))));
  row('raw Redis: publish → receive', redis);
  const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}×`;
  console.log(
    `\nratio gateway (event → each subscriber) / raw Redis:  p50 ${ratio(gateway.p50, redis.p50)}   p99 ${ratio(gateway.p99, redis.p99)}`,
  );
  const expected = ready * EVENTS;
  console.log(`messages delivered: ${perMessage.length}/${expected}${missing ? `  (${missing} missing)` : ''}`);
  const pct = (u: number) => `${(u * 100).toFixed(0)} %`;
  console.log(`event loop busy while the events flowed: gateway ${pct(busyGateway)}, client thread(s) ${busyClients.map(pct).join(', ')}`);
  console.log(`load average at the end: ${load()}`);
  return missing === 0 && ready === SUBSCRIBERS ? 0 : 1;
}

async function main(): Promise<number> {
  const cleanups: Cleanup[] = [];
  const timeout = setTimeout(() => {
    console.error(`bench did not finish within ${TIMEOUT_MS} ms: cleaning up`);
    void cleanup().finally(() => process.exit(1));
  }, TIMEOUT_MS);
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      stopping = true;
      // Each step is bounded, so one that hangs cannot keep the database from being dropped.
      for (const { name, fn } of cleanups.splice(0).reverse()) {
        let timer: NodeJS.Timeout | undefined;
        const limit = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            console.error(`cleanup step "${name}" did not finish within ${CLEANUP_STEP_MS} ms; going on`);
            resolve();
          }, CLEANUP_STEP_MS);
        });
        await Promise.race([fn().catch((err) => console.error(`cleanup step "${name}" failed:`, coerceError(err).message)), limit]);
        clearTimeout(timer);
      }
    })());
  // Ctrl-C must not leave a database behind either. `on`, not `once`, and later signals ignored:
  // Apollo Server re-raises SIGINT after stopping itself, which would otherwise kill us mid-cleanup.
  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) return;
    interrupted = true;
    console.error('interrupted: cleaning up');
    void cleanup().finally(() => process.exit(130));
  });
  try {
    return await bench(cleanups);
  } finally {
    clearTimeout(timeout);
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error('bench failed:', coerceError(err).stack ?? coerceError(err).message);
    process.exit(1);
  },
);
