/**
 * Fan-out bench: one run watched by many WebSocket subscribers.
 *
 *   npx ts-node --swc bench/fanout.ts                      # 1000 subscribers, 200 events, runMetrics
 *   SUBSCRIBERS=200 EVENTS=50 SUBSCRIPTION=runUpdated npx ts-node --swc bench/fanout.ts
 *
 * Starts one gateway (bench/gateway.ts: a scratch database, Redis under the bench's prefix, workers
 * off), creates a job and a run, opens SUBSCRIBERS graphql-ws clients (one socket each, in
 * CLIENT_THREADS worker threads so the clients' own parsing does not run on the gateway's event
 * loop), waits until each has its snapshot, then applies EVENTS `run.metrics` events
 * (recordsProcessed = sequence number) every EVENT_GAP_MS. The figure the goal is about is, per
 * client and event, receive time − publish time: publish = when the writer hands the committed event
 * to the bus (`EventBus.publishAll`), so the PostgreSQL commit, the writer's own cost measured
 * elsewhere, is left out. The old figure from the emit (just before `runEvents.apply`, commit
 * included) stays as an informative row. Beside them, the raw Redis baseline: publish → receive of
 * REDIS_MESSAGES small JSON messages over two ioredis connections. Everything is bounded
 * (BENCH_TIMEOUT_MS, default 180 s) and cleaned up: sockets, threads, the app, the database. Fails
 * when a subscriber missed an event.
 *
 * See bench/README.md for how to read the figures.
 */
import 'reflect-metadata';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import Redis from 'ioredis';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket as WsSocket } from 'ws';
import type { App } from '../src/app';
import type { MetricsView } from '../src/domain';
import { coerceError } from '../src/errors';
import { Topic } from '../src/events/topics';
import { createBenchJob, createBenchRun, startBenchGateway } from './gateway';
import { runStandalone, type Bench, type BenchEnv, type BenchRow } from './lib';

function intEnv(name: string, def: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name}=${raw}: expected an integer >= ${min}`);
  return n;
}

/** What one run of the bench does (from the environment, see bench/README.md; `BENCH_QUICK=1` makes it small). */
interface FanoutOptions {
  subscribers: number;
  events: number;
  eventGapMs: number;
  redisMessages: number;
  redisGapMs: number;
  clientThreads: number;
  timeoutMs: number;
  subscription: 'runMetrics' | 'runUpdated';
}

function fanoutOptions(quick: boolean): FanoutOptions {
  const subscribers = intEnv('SUBSCRIBERS', quick ? 200 : 1000);
  const subscription = process.env.SUBSCRIPTION ?? 'runMetrics';
  if (subscription !== 'runMetrics' && subscription !== 'runUpdated') throw new Error('SUBSCRIPTION must be runMetrics or runUpdated');
  return {
    subscribers,
    events: intEnv('EVENTS', quick ? 50 : 200),
    eventGapMs: intEnv('EVENT_GAP_MS', 20, 0),
    redisMessages: intEnv('REDIS_MESSAGES', quick ? 500 : 2000),
    redisGapMs: intEnv('REDIS_GAP_MS', 2, 0),
    clientThreads: Math.min(intEnv('CLIENT_THREADS', 1), subscribers),
    timeoutMs: intEnv('BENCH_TIMEOUT_MS', 180_000),
    subscription,
  };
}

/** Longest wait for one cleanup step before going on to the next. */
const CLEANUP_STEP_MS = 15_000;

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
async function redisBaseline(redisUrl: string, prefix: string, messages: number, gapMs: number): Promise<number[]> {
  const pub = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const sub = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
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
      if (latencies.length === messages) resolveAll();
    });
    await sub.subscribe(channel);
    for (let seq = 1; seq <= messages; seq++) {
      await pub.publish(channel, JSON.stringify({ seq, sentAt: now(), recordsProcessed: seq, runId: 'baseline' }));
      if (gapMs) await sleep(gapMs);
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

// The transport floor: plain sockets to a plain ws server, the same message bytes, parsed as JSON.
const rawRecv = new Float64Array(count * width).fill(NaN);
const rawGot = new Int32Array(count);
const raws = [];
function openRaw(i, rawUrl) {
  return new Promise((resolve, reject) => {
    const s = new WebSocket(rawUrl);
    raws.push(s);
    s.on('open', resolve);
    s.on('error', reject);
    s.on('message', (d) => {
      const t = now();
      const seq = seqOf(JSON.parse(String(d)).payload.data);
      if (Number.isInteger(seq) && seq > 0 && seq <= events && Number.isNaN(rawRecv[i * width + seq])) { rawRecv[i * width + seq] = t; rawGot[i]++; }
    });
  });
}

parentPort.on('message', async (msg) => {
  if (msg.type === 'ping') parentPort.postMessage({ type: 'pong', t: msg.t, tw: now() });
  if (msg.type === 'openRaw') {
    for (let i = 0; i < count; i += 50) {
      const batch = [];
      for (let j = i; j < Math.min(count, i + 50); j++) batch.push(openRaw(j, msg.url));
      await Promise.all(batch);
    }
    parentPort.postMessage({ type: 'rawReady' });
  }
  if (msg.type === 'finishRaw') {
    const until = Date.now() + 10000;
    while (Date.now() < until && !rawGot.every((n) => n >= msg.events)) await new Promise((r) => setTimeout(r, 50));
    for (const s of raws) s.terminate();
    parentPort.postMessage({ type: 'rawResult', recv: rawRecv }, [rawRecv.buffer]);
  }
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
 * `EventBus.publishAll`: `publishAt`, the instant the goal is measured from), and when the gateway
 * hands each message to a socket (`ws`'s `WebSocket#send`: in this thread only the gateway's server
 * sockets use `ws`; the clients live in worker threads with their own copy of the module). Both see
 * the sequence number in the payload; a message sent as bytes is read as UTF-8 for it.
 */
function installProbes(app: App, emitAt: Float64Array, events: number) {
  const committed: number[] = [];
  /** Every socket write of an event: its sequence number and when. */
  const writes = { seq: [] as number[], at: [] as number[] };
  const publishAt = new Float64Array(events + 1);
  /** One message as the gateway sent it (event 1), for the raw broadcast of the same bytes. */
  const sample: { text?: string } = {};
  const bus = app.bus;
  const publishAll = bus.publishAll;
  bus.publishAll = function (publications) {
    const t = now();
    for (const p of publications) {
      const seq = p.topic === Topic.RUN_METRICS ? (p.payload as MetricsView).recordsProcessed : 0;
      if (seq > 0 && emitAt[seq] > 0) {
        committed.push(t - emitAt[seq]);
        publishAt[seq] = t;
      }
    }
    return publishAll.call(this, publications);
  };
  const proto = WsSocket.prototype as unknown as { send: (data: unknown, ...rest: unknown[]) => void };
  const send = proto.send;
  const SEQ = /"recordsProcessed":(\d+)/;
  proto.send = function (this: unknown, data: unknown, ...rest: unknown[]) {
    const text = typeof data === 'string' ? data : Buffer.isBuffer(data) ? data.toString('utf8', 0, Math.min(data.length, 4096)) : '';
    const seq = Number(SEQ.exec(text)?.[1] ?? 0);
    if (seq > 0 && emitAt[seq] > 0) {
      writes.seq.push(seq);
      writes.at.push(now());
      if (seq === 1) sample.text ??= text;
    }
    return send.call(this, data, ...rest);
  };
  return {
    committed,
    writes,
    publishAt,
    sample,
    remove() {
      proto.send = send;
      bus.publishAll = publishAll;
    },
  };
}

// ---------- the floor: the same bytes over plain sockets ----------

/**
 * What the transport alone costs on this machine: the message the gateway sent for event 1 (its
 * sequence number replaced), written by this thread to as many plain `ws` sockets (no protocol,
 * no GraphQL) held by the same client threads, at the same cadence. Latency = receive − the instant
 * the writes of that event began. The gateway cannot do better than this with one write per socket.
 */
async function rawBroadcast(threads: ThreadHandle[], sampleText: string, o: FanoutOptions, stopping: () => boolean) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  try {
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    await Promise.all(threads.map((t) => request(t.worker, { type: 'openRaw', url }, 'rawReady', o.timeoutMs)));
    const sentAt = new Float64Array(o.events + 1);
    const start = now() + 100;
    for (let seq = 1; seq <= o.events && !stopping(); seq++) {
      await sleep(start + (seq - 1) * o.eventGapMs - now());
      const text = sampleText.replace(/"recordsProcessed":1\b/, `"recordsProcessed":${seq}`);
      sentAt[seq] = now();
      for (const client of wss.clients) client.send(text);
    }
    const results = await Promise.all(
      threads.map((t) => request<{ recv: Float64Array }>(t.worker, { type: 'finishRaw', events: o.events }, 'rawResult', 30_000)),
    );
    const received = { seq: [] as number[], at: [] as number[] };
    results.forEach(({ recv }, ti) => {
      for (let c = 0; c < threads[ti].count; c++) {
        for (let seq = 1; seq <= o.events; seq++) {
          const t = recv[c * (o.events + 1) + seq];
          if (Number.isNaN(t)) continue;
          received.seq.push(seq);
          received.at.push(t - threads[ti].offsetMs);
        }
      }
    });
    return latencies(received, sentAt, o.events);
  } finally {
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }
}

// ---------- the bench ----------

/** Something to undo at the end, whatever happens; `name` says which step hung or failed. */
interface Cleanup {
  name: string;
  fn: () => Promise<unknown>;
}

/** Latencies of one event's messages, from a per-event start instant (emit or publish). */
function latencies(times: { seq: number[]; at: number[] }, from: Float64Array, events: number) {
  const each: number[] = [];
  const last = new Float64Array(events + 1).fill(NaN);
  for (let i = 0; i < times.seq.length; i++) {
    const seq = times.seq[i];
    if (!(from[seq] > 0)) continue;
    const latency = times.at[i] - from[seq];
    each.push(latency);
    if (!(latency <= last[seq])) last[seq] = latency;
  }
  return { each, last: Array.from(last.subarray(1)).filter((x) => !Number.isNaN(x)) };
}

async function fanout(env: BenchEnv, o: FanoutOptions, cleanups: Cleanup[], stopping: () => boolean): Promise<BenchRow[]> {
  console.log(
    `jobwire fan-out bench — ${o.subscribers} subscribers × ${o.events} events every ${o.eventGapMs} ms over ${o.subscription}, ${o.clientThreads} client thread(s)`,
  );
  // Figures from a machine busy with other work are not comparable: say how busy it was.
  const load = () =>
    os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  const loadAtStart = load();
  console.log(
    `  machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim() ?? '?'}), load average ${loadAtStart}, Node ${process.version}`,
  );

  const t0 = now();
  const gateway = await startBenchGateway(env, 'fanout');
  cleanups.push({ name: 'stop the gateway, drop its database', fn: () => gateway.stop() });
  const { app } = gateway;
  console.log(
    `  gateway ${app.url} (database created and migrated in ${((now() - t0) / 1000).toFixed(1)} s), Redis prefix ${env.redisPrefix}`,
  );

  const redis = summarize(await redisBaseline(env.redisUrl, env.redisPrefix, o.redisMessages, o.redisGapMs));

  const job = await createBenchJob(app, 'bench fan-out');
  // Sequence 0 (the run's first metrics sample) is what every subscriber gets as its snapshot.
  const run = await createBenchRun(app, job);
  const metrics = (seq: number) => ({
    runId: run.id,
    type: 'run.metrics' as const,
    payload: { recordsProcessed: seq, recordsFailed: 0, throughputRps: 0, bytesProcessed: 0, activeWorkers: 1 },
  });

  const query =
    o.subscription === 'runMetrics'
      ? 'subscription($runId: ID!) { runMetrics(runId: $runId) { timestamp recordsProcessed recordsFailed throughputRps } }'
      : 'subscription($runId: ID!) { runUpdated(runId: $runId) { id status attempt progress updatedAt metrics { recordsProcessed recordsFailed } stages { name status completedItems } } }';
  const threads: ThreadHandle[] = [];
  for (let i = 0; i < o.clientThreads; i++) {
    const count = Math.floor(o.subscribers / o.clientThreads) + (i < o.subscribers % o.clientThreads ? 1 : 0);
    const worker = new Worker(CLIENT_THREAD_JS, {
      eval: true,
      workerData: {
        graphqlWs: require.resolve('graphql-ws'),
        ws: require.resolve('ws'),
        url: gateway.wsUrl,
        query,
        variables: { runId: run.id },
        count,
        events: o.events,
        field: o.subscription,
      },
    });
    worker.on('error', (err) => console.error('client thread failed:', coerceError(err).message));
    cleanups.push({ name: `terminate client thread ${i}`, fn: () => worker.terminate() });
    threads.push({ worker, count, offsetMs: await clockOffset(worker) });
  }
  console.log(`  client thread clock offsets: ${threads.map((t) => `${(t.offsetMs * 1000).toFixed(0)} µs`).join(', ')}`);

  const tOpen = now();
  const readies = await Promise.all(
    threads.map((t) => request<{ ready: number; failed: number; errors: string[] }>(t.worker, { type: 'open' }, 'ready', o.timeoutMs)),
  );
  const ready = readies.reduce((n, r) => n + r.ready, 0);
  console.log(`  subscribers with their snapshot: ${ready}/${o.subscribers} in ${((now() - tOpen) / 1000).toFixed(1)} s`);
  for (const e of readies.flatMap((r) => r.errors)) console.log(`    subscribe failed: ${e}`);
  if (ready === 0) throw new Error('no subscriber got its snapshot');

  const emitAt = new Float64Array(o.events + 1);
  const probes = installProbes(app, emitAt, o.events);
  cleanups.push({ name: 'remove probes', fn: async () => probes.remove() });
  // One more bus subscriber of the same channel, inside the gateway: when Redis hands it the message.
  const arrived = { seq: [] as number[], at: [] as number[] };
  const tap = await app.bus.subscribe(Topic.RUN_METRICS, run.id);
  cleanups.push({ name: 'close the bus tap', fn: async () => tap.close() });
  void (async () => {
    for await (const m of tap) {
      arrived.seq.push(m.recordsProcessed);
      arrived.at.push(now());
    }
  })();
  const start = now() + 100;
  // How busy each event loop was while the events flowed: near 100 % means saturated, so queueing.
  const eluGateway = performance.eventLoopUtilization();
  const eluClients = threads.map((t) => t.worker.performance.eventLoopUtilization());
  for (let seq = 1; seq <= o.events && !stopping(); seq++) {
    await sleep(start + (seq - 1) * o.eventGapMs - now());
    if (stopping()) break;
    emitAt[seq] = now();
    await app.runEvents.apply(metrics(seq));
  }

  const received = { seq: [] as number[], at: [] as number[] };
  let missing = 0;
  await sleep(Math.min(2000, 10 * o.eventGapMs + 200));
  const busyGateway = performance.eventLoopUtilization(eluGateway).utilization;
  const busyClients = threads.map((t, i) => t.worker.performance.eventLoopUtilization(eluClients[i]).utilization);
  const results = await Promise.all(threads.map((t) => request<{ recv: Float64Array }>(t.worker, { type: 'finish' }, 'result', 30_000)));
  probes.remove();
  results.forEach(({ recv }, ti) => {
    const width = o.events + 1;
    for (let c = 0; c < threads[ti].count; c++) {
      for (let seq = 1; seq <= o.events; seq++) {
        const t = recv[c * width + seq];
        if (Number.isNaN(t)) {
          missing++;
          continue;
        }
        received.seq.push(seq);
        received.at.push(t - threads[ti].offsetMs);
      }
    }
  });

  const fromEmit = latencies(received, emitAt, o.events);
  const fromPublish = latencies(received, probes.publishAt, o.events);
  const writesFromPublish = latencies(probes.writes, probes.publishAt, o.events);
  const header = (title: string) =>
    console.log(
      `\n${title.padEnd(46)}${'count'.padStart(8)}${'p50'.padStart(9)}${'p90'.padStart(9)}${'p99'.padStart(9)}${'max'.padStart(9)}`,
    );
  header('latency in ms, from the emit of an event');
  row('→ committed in PostgreSQL, publish starts', summarize(probes.committed));
  row('→ Redis delivers it to the gateway', summarize(latencies(arrived, emitAt, o.events).each));
  row('→ gateway writes it to each socket', summarize(latencies(probes.writes, emitAt, o.events).each));
  row('→ each subscriber receives it', summarize(fromEmit.each));
  header('latency in ms, from the publish (after the commit)');
  row('→ Redis delivers it to the gateway', summarize(latencies(arrived, probes.publishAt, o.events).each));
  row('→ gateway writes it to each socket', summarize(writesFromPublish.each));
  row(`→ gateway wrote it to the last of ${ready} sockets`, summarize(writesFromPublish.last));
  row('→ each subscriber receives it', summarize(fromPublish.each));
  row(`→ the last of ${ready} subscribers receives it`, summarize(fromPublish.last));
  row('raw Redis: publish → receive', redis);
  const expected = ready * o.events;
  console.log(`messages delivered: ${received.seq.length}/${expected}${missing ? `  (${missing} missing)` : ''}`);
  const pct = (u: number) => `${(u * 100).toFixed(0)} %`;
  console.log(`event loop busy while the events flowed: gateway ${pct(busyGateway)}, client thread(s) ${busyClients.map(pct).join(', ')}`);
  const loadAtEnd = load();
  console.log(`load average at the end: ${loadAtEnd}`);
  if (missing > 0 || ready < o.subscribers) {
    throw new Error(
      `subscribers missed events: ${missing} of ${expected} messages missing, ${o.subscribers - ready} subscribers without a snapshot`,
    );
  }

  if (!probes.sample.text) throw new Error('no message of event 1 was seen going to a socket');
  const floor = summarize((await rawBroadcast(threads, probes.sample.text, o, stopping)).each);
  row(`raw ws: the same bytes to ${ready} plain sockets`, floor);

  const publish = summarize(fromPublish.each);
  const emit = summarize(fromEmit.each);
  const last = summarize(fromPublish.last);
  const shape = `${ready} subscribers × ${o.events} events, ${o.subscription}`;
  const note = `ms; gateway busy ${pct(busyGateway)}, load ${loadAtStart} → ${loadAtEnd}`;
  const base = { bench: 'fanout', note };
  return [
    {
      ...base,
      metric: `publish → each subscriber p50 (${shape})`,
      value: publish.p50,
      baselineName: 'raw Redis publish → receive p50',
      baseline: redis.p50,
      ratio: publish.p50 / redis.p50,
      goal: { op: '<=', target: 20 },
    },
    {
      ...base,
      metric: 'publish → each subscriber p99',
      value: publish.p99,
      baselineName: 'raw Redis p99',
      baseline: redis.p99,
      ratio: publish.p99 / redis.p99,
      goal: null,
    },
    {
      ...base,
      metric: 'publish → last subscriber of each event p50',
      value: last.p50,
      baselineName: 'raw Redis p50',
      baseline: redis.p50,
      ratio: last.p50 / redis.p50,
      goal: null,
    },
    {
      ...base,
      metric: `raw ws: the same bytes written to ${ready} plain sockets → each receives p50 (the floor)`,
      value: floor.p50,
      baselineName: 'raw Redis p50',
      baseline: redis.p50,
      ratio: floor.p50 / redis.p50,
      goal: null,
    },
    {
      ...base,
      metric: 'publish → each subscriber p50, against the floor',
      value: publish.p50,
      baselineName: 'raw ws floor p50',
      baseline: floor.p50,
      ratio: publish.p50 / floor.p50,
      goal: null,
    },
    {
      ...base,
      metric: 'emit → each subscriber p50 (PostgreSQL commit included)',
      value: emit.p50,
      baselineName: 'raw Redis p50',
      baseline: redis.p50,
      ratio: emit.p50 / redis.p50,
      goal: null,
    },
  ];
}

/**
 * Runs `steps` in reverse order, each bounded by {@link CLEANUP_STEP_MS} so that one that hangs
 * cannot keep the database from being dropped; failures are reported and the next step runs.
 */
async function runCleanups(steps: Cleanup[]): Promise<void> {
  for (const { name, fn } of steps.splice(0).reverse()) {
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
}

/**
 * One run watched by many WebSocket subscribers: p50 publish → each subscriber against raw Redis
 * publish → receive (goal ≤ 20×). Rejects after BENCH_TIMEOUT_MS (default 180 s) or when a subscriber
 * missed an event; cleans up (threads, gateway, database) either way.
 */
export const fanoutBench: Bench = {
  name: 'fanout',
  async run(env) {
    const o = fanoutOptions(env.quick);
    const cleanups: Cleanup[] = [];
    let stopping = false;
    let timer: NodeJS.Timeout | undefined;
    let onSigint: (() => void) | undefined;
    // Neither the timeout nor Ctrl-C may leave a database behind: both end the run through `finally`.
    const interrupted = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`fan-out bench did not finish within ${o.timeoutMs} ms`)), o.timeoutMs);
      onSigint = () => reject(new Error('interrupted'));
      process.once('SIGINT', onSigint);
    });
    try {
      return await Promise.race([fanout(env, o, cleanups, () => stopping), interrupted]);
    } finally {
      stopping = true;
      clearTimeout(timer);
      await runCleanups(cleanups);
      process.off('SIGINT', onSigint!);
    }
  },
};

if (require.main === module) runStandalone(fanoutBench);
