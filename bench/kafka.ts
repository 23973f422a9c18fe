/**
 * Kafka bench: run events from the broker into PostgreSQL and out to one graphql-ws subscriber per
 * run, through the gateway's own consumer (workers/kafka-consumer.ts) over the gateway's services.
 *
 *   npx ts-node --swc bench/kafka.ts            (BENCH_QUICK=1: 20,000 events over 100 runs, 3 s paced)
 *   BENCH_CPU_PROFILE=/tmp/kafka- npx ts-node --swc bench/kafka.ts    (a CPU profile of each timed phase)
 *
 * Topics (6 partitions for run events and log lines) and consumer groups of its own, a gateway of
 * its own (bench/gateway.ts: scratch PostgreSQL, Redis under the bench's prefix, Kafka on those
 * topics, workers off), 1,000 KAFKA runs moved to RUNNING with a first `transform` stage. A client
 * thread plays the world outside the gateway: it produces the events (key = runId, a fresh eventId
 * each, a run's events in order) and holds one graphql-ws socket per run subscribed to
 * `stageProgress(runId)`, so neither its producing nor its parsing runs on the gateway's event loop.
 *
 * 1. Throughput. 200,000 events (per run: nine stage increments, then a log line, and again) are on
 *    the topics before anything is timed. The baseline: a kafkajs consumer (the gateway's client
 *    settings, a fresh group) whose `eachBatch` only resolves offsets and heartbeats, from
 *    `connect()` until it has seen every record. Then the gateway's consumer (made as
 *    src/app.ts makes it; the bench starts it itself, so that the events wait until every
 *    subscriber has its snapshot), from its `start()` until every subscriber has seen its run's
 *    final stage count and every event is applied (log lines committed too). Goals: at least 0.5× the
 *    baseline, and 30,000 events/s.
 * 2. Latency. The client thread produces 1,000 events/s (the same mix) for 10 s;
 *    per stage increment, its produce call → the subscriber receiving the count that includes it.
 *    Goal: p99 ≤ 50 ms. Beside it the floor: the same increments reaching a kafkajs consumer that
 *    does nothing (a group of its own, on the client thread, so the gateway's loop does not delay it).
 *
 * Without a broker (KAFKA_BROKERS, default 127.0.0.1:9092) it says why and returns no rows. Fails
 * when a count in PostgreSQL is not what was produced (a lost or doubled event is a bug, not noise).
 */
import 'reflect-metadata';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { Kafka, logLevel } from 'kafkajs';
import type { App } from '../src/app';
import { ExecutionBackend, RunStatus, SourceType } from '../src/domain';
import { coerceError } from '../src/errors';
import type { KafkaRecord } from '../src/kafka/event-ingest.service';
import type { IngestProgress } from '../src/kafka/ingest-status';
import { makeKafka, makeProducer } from '../src/kafka/kafka-client';
import { makeLogger } from '../src/logger';
import type { CoreEvent } from '../src/runs/core-events';
import { makeKafkaConsumer } from '../workers/kafka-consumer';
import { startBenchGateway } from './gateway';
import { quantile, runStandalone, type Bench, type BenchRow } from './lib';

interface KafkaBenchOptions {
  /** Events pre-produced for the throughput phase (a multiple of `runs`). */
  events: number;
  runs: number;
  /** Every `logEvery`-th event of a run is a log line, the others stage increments. */
  logEvery: number;
  /** Partitions of the run-events and run-logs topics. */
  partitions: number;
  /** The paced phase: events per second, for this long. */
  latencyRate: number;
  latencySeconds: number;
  /** Longest wait of any one phase. */
  timeoutMs: number;
}

function kafkaOptions(quick: boolean): KafkaBenchOptions {
  return quick
    ? { events: 20_000, runs: 100, logEvery: 10, partitions: 6, latencyRate: 1000, latencySeconds: 3, timeoutMs: 120_000 }
    : { events: 200_000, runs: 1000, logEvery: 10, partitions: 6, latencyRate: 1000, latencySeconds: 10, timeoutMs: 300_000 };
}

/** The end-to-end target on the reference machine (2 cores), in events/s. */
const TARGET_RATE = 30_000;
const LATENCY_BUDGET_MS = 50;
const STAGE = 'transform';

/** Absolute wall-clock milliseconds with sub-millisecond resolution, comparable across threads (after {@link clockOffset}). */
const now = () => performance.timeOrigin + performance.now();

/** Why Kafka cannot be used, or null when a broker answers a metadata request. */
async function unreachable(brokers: string[]): Promise<string | null> {
  const admin = new Kafka({
    clientId: 'jobwire-bench-probe',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    await admin.describeCluster();
    return null;
  } catch (err) {
    return `Kafka is not reachable at ${brokers.join(',')} (${coerceError(err).message}): run npm run services:up, or set KAFKA_BROKERS`;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

// ---------- the client thread: producer and subscribers (plain JS) ----------

/**
 * One producer and one graphql-ws client per run (one socket each, connected 50 at a time, each
 * waiting for its snapshot). It keeps every run's last stage count; `reach` answers once every run
 * has at least a count; `produce` puts the throughput phase's events on the topics; `pace`
 * produces at a rate and answers, once every increment has reached its subscriber, with the
 * latency of each (produce call → receive, both on this thread's clock) and of each reaching a
 * consumer that does nothing (the floor).
 */
const CLIENT_THREAD_JS = `
const crypto = require('node:crypto');
const { parentPort, workerData } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');
const { createClient } = require(workerData.graphqlWs);
const WebSocket = require(workerData.ws);
const { Kafka, Partitioners, logLevel } = require(workerData.kafkajs);
const now = () => performance.timeOrigin + performance.now();
const { url, runIds, brokers, topics, stage, logEvery } = workerData;
const n = runIds.length;
const query = 'subscription ($runId: ID!) { stageProgress(runId: $runId) { name completedItems } }';
const counts = new Int32Array(n).fill(-1);
const clients = [];
let goal = Infinity, short = 0;
let lat = null, sentAt = null, base = null, perRun = 0;
const fail = (why) => parentPort.postMessage({ type: 'error', message: why });
const reason = (err) => String((err && (err.message || err.reason || err.code)) || err);

function open(i) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no snapshot of run ' + runIds[i] + ' within 30 s')), 30000);
    const client = createClient({ url, webSocketImpl: WebSocket, lazy: true, retryAttempts: 0 });
    clients.push(client);
    client.subscribe({ query, variables: { runId: runIds[i] } }, {
      next: (msg) => {
        const t = now();
        if (msg.errors) { clearTimeout(timer); return counts[i] < 0 ? reject(new Error(JSON.stringify(msg.errors))) : fail(JSON.stringify(msg.errors)); }
        const c = msg.data.stageProgress.completedItems;
        if (counts[i] < 0) { counts[i] = c; clearTimeout(timer); return resolve(); }
        const before = counts[i];
        if (c <= before) return;
        counts[i] = c;
        if (lat) for (let k = Math.max(before, base[i]) + 1; k <= c; k++) lat.push(t - sentAt[i * perRun + (k - base[i] - 1)]);
        if (before < goal && c >= goal && --short === 0) parentPort.postMessage({ type: 'reached', t });
      },
      error: (err) => { clearTimeout(timer); counts[i] < 0 ? reject(new Error(reason(err))) : fail(reason(err)); },
      complete: () => undefined,
    });
  });
}

const kafka = new Kafka({ clientId: 'jobwire-bench-outside', brokers, logLevel: logLevel.NOTHING });
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
const EVENT_ID = /"eventId":"([^"]+)"/;
const isLog = (seq) => seq % logEvery === logEvery - 1;
const envelope = (runId, type, payload) =>
  JSON.stringify({ eventId: crypto.randomUUID(), runId, type, occurredAt: new Date().toISOString(), producer: 'jobwire-bench', attempt: 1, payload });
const message = (runId, seq) => ({
  key: runId,
  value: isLog(seq)
    ? envelope(runId, 'run.log', { level: 'INFO', message: 'batch ' + seq + ' written', source: 'jobwire-bench' })
    : envelope(runId, 'stage.progress', { stage, increment: 1 }),
});
function send(events, logs) {
  const topicMessages = [];
  if (events.length) topicMessages.push({ topic: topics.runEvents, messages: events });
  if (logs.length) topicMessages.push({ topic: topics.runLogs, messages: logs });
  return producer.sendBatch({ acks: -1, topicMessages });
}

/** Sequence numbers 0 … perRun-1 of every run, round after round, in requests of 5,000 records. */
async function produce(perRun) {
  let events = [], logs = [];
  for (let seq = 0; seq < perRun; seq++) {
    for (const runId of runIds) {
      (isLog(seq) ? logs : events).push(message(runId, seq));
      if (events.length + logs.length >= 5000) { await send(events, logs); events = []; logs = []; }
    }
  }
  if (events.length + logs.length) await send(events, logs);
}

/** The floor: a consumer of its own (fresh group, from the end) doing nothing but noting when each paced increment arrives. */
async function watchDoingNothing(groupId, sent, floor) {
  const consumer = kafka.consumer({ groupId, maxBytesPerPartition: 4 << 20 });
  const joined = new Promise((resolve) => consumer.on(consumer.events.GROUP_JOIN, resolve));
  await consumer.connect();
  await consumer.subscribe({ topics: [topics.runEvents], fromBeginning: false });
  await consumer.run({
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 2,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      const t = now();
      for (const m of batch.messages) {
        const at = sent.get(EVENT_ID.exec(String(m.value))?.[1]);
        if (at !== undefined) floor.push(t - at);
        resolveOffset(m.offset);
      }
      await heartbeat();
    },
  });
  await joined;
  return consumer;
}

async function pace({ rate, total, tickMs, timeoutMs, floorGroup }) {
  const sent = new Map(), floor = [];
  const watcher = await watchDoingNothing(floorGroup, sent, floor);
  perRun = total / n;
  sentAt = new Float64Array(n * perRun).fill(NaN);
  base = Int32Array.from(counts);
  lat = [];
  const stageK = new Int32Array(n);
  const sends = [];
  let produced = 0;
  const started = now();
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((now() - started) / 1000) * rate));
      if (due > produced) {
        const events = [], logs = [], marks = [];
        for (; produced < due; produced++) {
          const r = produced % n, seq = Math.floor(produced / n);
          if (isLog(seq)) logs.push(message(runIds[r], seq));
          else { events.push(message(runIds[r], seq)); marks.push(r * perRun + stageK[r]++); }
        }
        const t = now();
        for (const m of marks) sentAt[m] = t;
        for (const e of events) sent.set(EVENT_ID.exec(e.value)[1], t);
        sends.push(send(events, logs));
      }
      if (produced >= total) { clearInterval(timer); resolve(); }
    }, tickMs);
  });
  const seconds = (now() - started) / 1000;
  await Promise.all(sends);
  const until = now() + timeoutMs;
  const missing = () => { let m = 0; for (let i = 0; i < n; i++) m += Math.max(0, base[i] + stageK[i] - counts[i]); return m; };
  while (missing() > 0 && now() < until) await new Promise((r) => setTimeout(r, 20));
  const result = Float64Array.from(lat);
  lat = null;
  await watcher.disconnect();
  return { seconds, latencies: result, floor: Float64Array.from(floor), increments: stageK.reduce((a, b) => a + b, 0), missing: missing() };
}

parentPort.on('message', async (msg) => {
  try {
    if (msg.type === 'ping') parentPort.postMessage({ type: 'pong', tw: now() });
    else if (msg.type === 'open') {
      await producer.connect();
      for (let i = 0; i < n; i += 50) {
        const batch = [];
        for (let j = i; j < Math.min(n, i + 50); j++) batch.push(open(j));
        await Promise.all(batch);
      }
      parentPort.postMessage({ type: 'opened' });
    } else if (msg.type === 'produce') {
      await produce(msg.perRun);
      parentPort.postMessage({ type: 'produced' });
    } else if (msg.type === 'reach') {
      goal = msg.count;
      short = 0;
      for (const c of counts) if (c < goal) short++;
      if (short === 0) parentPort.postMessage({ type: 'reached', t: now() });
    } else if (msg.type === 'counts') parentPort.postMessage({ type: 'counts', counts: Array.from(counts) });
    else if (msg.type === 'pace') {
      const r = await pace(msg);
      parentPort.postMessage({ type: 'paced', ...r }, [r.latencies.buffer, r.floor.buffer]);
    } else if (msg.type === 'close') {
      await Promise.allSettled([producer.disconnect(), ...clients.map((c) => c.dispose())]);
      parentPort.postMessage({ type: 'closed' });
    }
  } catch (err) {
    fail(reason(err));
  }
});
`;

/** Posts `message` and resolves with the thread's reply of type `reply`; rejects on its `error`, or after `timeoutMs`. */
function request<T>(worker: Worker, message: object, reply: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      worker.off('message', onMessage);
      reject(new Error(`client thread: no ${reply} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (m: { type: string; message?: string }) => {
      if (m.type !== reply && m.type !== 'error') return;
      clearTimeout(timer);
      worker.off('message', onMessage);
      if (m.type === 'error') reject(new Error(`client thread: ${m.message}`));
      else resolve(m as T);
    };
    worker.on('message', onMessage);
    worker.postMessage(message);
  });
}

/** The offset of the thread's clock against ours (theirs − ours), from the ping-pong with the smallest round trip. */
async function clockOffset(worker: Worker): Promise<number> {
  let best = { rtt: Infinity, offset: 0 };
  for (let i = 0; i < 20; i++) {
    const t = now();
    const { tw } = await request<{ tw: number }>(worker, { type: 'ping' }, 'pong', 5000);
    const back = now();
    if (back - t < best.rtt) best = { rtt: back - t, offset: tw - (t + back) / 2 };
  }
  return best.offset;
}

/**
 * This thread's time on a CPU and time runnable but waiting for one, in ms (Linux
 * `/proc/self/task/<tid>/schedstat`; the main thread's tid is the pid). Null elsewhere.
 */
function threadTimes(): { cpuMs: number; waitMs: number } | null {
  try {
    const [run, wait] = fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ').map(Number);
    return { cpuMs: run / 1e6, waitMs: wait / 1e6 };
  } catch {
    return null;
  }
}

/** What the gateway's thread did between two {@link threadTimes}, per event. */
function cpuNote(a: ReturnType<typeof threadTimes>, b: ReturnType<typeof threadTimes>, events: number): string {
  if (!a || !b) return '';
  const per = (ms: number) => ((ms * 1000) / events).toFixed(0);
  return `; gateway thread ${per(b.cpuMs - a.cpuMs)} µs CPU per event, ${per(b.waitMs - a.waitMs)} µs waiting for a CPU`;
}

// ---------- the phases ----------

/** `runs` KAFKA runs (a job each), RUNNING, each with a first stage at 0 (so a subscriber's snapshot is one message). */
async function createRuns(app: App, runs: number, totalItems: number): Promise<string[]> {
  const ids: string[] = new Array(runs);
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = next++; i < runs; i = next++) {
        const job = await app.jobs.create({
          name: `kafka-bench-${i}`,
          backend: ExecutionBackend.KAFKA,
          source: { type: SourceType.HTTP, params: { url: 'https://example.com/in.csv' } },
          destination: { schema: 'public', table: 'kafka_bench' },
        });
        ids[i] = (await app.runs.start(job.id)).id;
      }
    }),
  );
  for (let i = 0; i < runs; i += 500) {
    const events: CoreEvent[] = ids.slice(i, i + 500).flatMap((runId): CoreEvent[] => [
      { runId, attempt: 1, type: 'run.status', payload: { status: RunStatus.RUNNING } },
      { runId, attempt: 1, type: 'stage.progress', payload: { stage: STAGE, totalItems, completedItems: 0 } },
    ]);
    await app.runEvents.applyBatch(events);
  }
  return ids;
}

/** The baseline: a consumer that does nothing with the records. Milliseconds from `connect()` to the last record, and to the first batch. */
async function consumeDoingNothing(kafka: Kafka, groupId: string, topics: string[], total: number, timeoutMs: number) {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 30_000, heartbeatInterval: 3000, maxBytesPerPartition: 4 << 20 });
  let seen = 0;
  let firstAt = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const t0 = now();
  try {
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 2,
      eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
        firstAt ||= now();
        for (const m of batch.messages) resolveOffset(m.offset);
        await heartbeat();
        seen += batch.messages.length;
        if (seen >= total) done();
      },
    });
    await withTimeout(all, timeoutMs, () => `the plain consumer saw ${seen} of ${total} records`);
    return { ms: now() - t0, firstBatchMs: firstAt - t0 };
  } finally {
    await consumer.disconnect();
  }
}

const OCCURRED = /"occurredAt":"([^"]+)"/;
/** Milliseconds from an event's `occurredAt` (stamped by the producer just before its produce call) to `at`. */
const ageOf = (value: string | null, at: number) => at - Date.parse(OCCURRED.exec(value ?? '')?.[1] ?? '');

async function withTimeout<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what()}`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The gateway's consumer, made as the composition root makes it, over the app's ingest service;
 * counts what it applies and notes its first batch.
 */
function gatewayConsumer(app: App) {
  const tracker = app.ingestStatus!;
  const ingest = app.core.ingest!;
  const kafka = makeKafka(app.config, app.logger, `jobwire-${app.instanceId}`);
  const producer = makeProducer(kafka);
  /**
   * Events applied, the first ingest call, and every ingest call: how many, records in all,
   * milliseconds in all. With `stamps` set, each stage increment's age (now − its `occurredAt`,
   * stamped by the producer) when its ingest call starts and when it has committed and published.
   */
  const state = {
    applied: 0,
    firstAt: 0,
    calls: 0,
    records: 0,
    ms: 0,
    stamps: null as { handed: number[]; committed: number[] } | null,
    waiters: [] as { n: number; resolve: (at: number) => void }[],
  };
  const ages = (records: readonly KafkaRecord[]) => {
    const t = Date.now();
    return records.filter((r) => r.topic === app.config.kafkaTopics.runEvents).map((r) => ageOf(r.value, t));
  };
  const progress: IngestProgress = {
    setConnected: (c) => tracker.setConnected(c),
    setPaused: (why) => tracker.setPaused(why),
    applied(n) {
      tracker.applied(n);
      state.applied += n;
      const at = now();
      state.waiters = state.waiters.filter((w) => (state.applied >= w.n ? (w.resolve(at), false) : true));
    },
  };
  const consumer = makeKafkaConsumer({
    kafka,
    producer,
    ingest: {
      async ingest(records) {
        const t = now();
        state.firstAt ||= t;
        const stamps = state.stamps;
        if (stamps) stamps.handed.push(...ages(records));
        try {
          return await ingest.ingest(records);
        } finally {
          if (stamps) stamps.committed.push(...ages(records));
          state.calls++;
          state.records += records.length;
          state.ms += now() - t;
        }
      },
    },
    progress,
    config: app.config,
    logger: app.logger,
  });
  return {
    state,
    async start() {
      await producer.connect();
      await consumer.start();
    },
    /** Resolves with the instant `n` events in all were applied (committed). */
    applied: (n: number) => new Promise<number>((resolve) => (state.applied >= n ? resolve(now()) : state.waiters.push({ n, resolve }))),
    async stop() {
      await consumer.stop();
      await producer.disconnect();
    },
  };
}

/**
 * With `BENCH_CPU_PROFILE=<prefix>`, a CPU profile of this thread (the gateway's) while `fn` runs,
 * written to `<prefix><phase>.cpuprofile` (open it in Chrome DevTools or speedscope).
 */
async function profiled<T>(phase: string, fn: () => Promise<T>): Promise<T> {
  const prefix = process.env.BENCH_CPU_PROFILE;
  if (!prefix) return fn();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    fs.writeFileSync(`${prefix}${phase}.cpuprofile`, JSON.stringify(profile));
    session.disconnect();
  }
}

const bench: Bench = {
  name: 'kafka',
  async run(env) {
    const o = kafkaOptions(env.quick);
    const why = await unreachable(env.kafkaBrokers);
    if (why) {
      console.log(`kafka: skipped, ${why}`);
      return [];
    }
    const perRun = o.events / o.runs;
    const stagesPerRun = perRun - Math.floor(perRun / o.logEvery);
    const paced = Math.ceil((o.latencyRate * o.latencySeconds) / o.runs) * o.runs;
    const pacedPerRun = paced / o.runs;
    const pacedStagesPerRun = pacedPerRun - Math.floor(pacedPerRun / o.logEvery);

    const cleanups: { name: string; fn: () => Promise<unknown> }[] = [];
    try {
      const token = crypto.randomBytes(4).toString('hex');
      const prefix = `jobwire.bench.kafka.${token}`;
      const topics = {
        runEvents: `${prefix}.run-events`,
        runLogs: `${prefix}.run-logs`,
        runCommands: `${prefix}.run-commands`,
        deadLetter: `${prefix}.dead-letter`,
      };
      const groups = { plain: `${prefix}.plain`, floor: `${prefix}.floor`, gateway: `${prefix}.gateway` };
      const kafka = makeKafka({ kafkaBrokers: env.kafkaBrokers }, makeLogger('error'), `jobwire-bench-${token}`);
      const admin = kafka.admin();
      await admin.connect();
      cleanups.push({ name: 'disconnect the admin client', fn: () => admin.disconnect() });
      cleanups.push({
        name: 'delete the topics',
        fn: async () => {
          // Groups first (their members have left by now): a group with offsets of a deleted topic stays behind otherwise.
          await admin.deleteGroups(Object.values(groups)).catch(() => undefined);
          await admin.deleteTopics({ topics: Object.values(topics), timeout: 10_000 });
        },
      });
      await admin.createTopics({
        topics: Object.values(topics).map((topic) => ({
          topic,
          numPartitions: topic === topics.runEvents || topic === topics.runLogs ? o.partitions : 1,
          replicationFactor: 1,
        })),
        waitForLeaders: true,
      });

      const gateway = await startBenchGateway(env, 'kafka', {
        kafkaBrokers: env.kafkaBrokers,
        kafkaGroupId: groups.gateway,
        kafkaTopics: topics,
        logLevel: 'error',
      });
      cleanups.push({ name: 'stop the gateway', fn: () => gateway.stop() });
      const { app } = gateway;
      const runIds = await createRuns(app, o.runs, stagesPerRun + pacedStagesPerRun);

      const worker = new Worker(CLIENT_THREAD_JS, {
        eval: true,
        workerData: {
          graphqlWs: require.resolve('graphql-ws'),
          ws: require.resolve('ws'),
          kafkajs: require.resolve('kafkajs'),
          url: gateway.wsUrl,
          runIds,
          brokers: env.kafkaBrokers,
          topics,
          stage: STAGE,
          logEvery: o.logEvery,
        },
      });
      const threadErrors: string[] = [];
      worker.on('error', (err) => threadErrors.push(coerceError(err).message));
      worker.on('message', (m: { type: string; message?: string }) => void (m.type === 'error' && threadErrors.push(m.message ?? '')));
      cleanups.push({ name: 'terminate the client thread', fn: () => worker.terminate() });
      cleanups.push({ name: 'close the subscribers', fn: () => request(worker, { type: 'close' }, 'closed', 15_000) });
      const offsetMs = await clockOffset(worker);
      await request(worker, { type: 'open' }, 'opened', o.timeoutMs);
      await request(worker, { type: 'produce', perRun }, 'produced', o.timeoutMs);

      // 1a. The baseline: the same records, consumed by a consumer that does nothing with them.
      const plain = await consumeDoingNothing(kafka, groups.plain, [topics.runEvents, topics.runLogs], o.events, o.timeoutMs);
      const plainRate = o.events / (plain.ms / 1000);

      // 1b. The gateway: every event applied and every subscriber at its run's final count.
      const consumer = gatewayConsumer(app);
      cleanups.push({ name: 'stop the gateway consumer', fn: () => consumer.stop() });
      const reached = request<{ t: number }>(worker, { type: 'reach', count: stagesPerRun }, 'reached', o.timeoutMs);
      reached.catch(() => undefined); // awaited below; only a failure before then would leave it unhandled
      const elu0 = performance.eventLoopUtilization();
      const cpu0 = threadTimes();
      const t0 = now();
      const [subscribersAt, appliedAt] = await profiled('throughput', async () => {
        await consumer.start();
        return Promise.all([
          reached.then((m) => m.t - offsetMs),
          withTimeout(consumer.applied(o.events), o.timeoutMs, () => `the gateway applied ${consumer.state.applied} of ${o.events} events`),
        ]);
      });
      const gatewayMs = Math.max(subscribersAt, appliedAt) - t0;
      const busy = performance.eventLoopUtilization(elu0).utilization;
      const cpu1 = threadTimes();
      const gatewayRate = o.events / (gatewayMs / 1000);
      const calls1 = { ...consumer.state };

      // 2. Latency at a paced rate, the same mix, the same subscribers.
      const elu1 = performance.eventLoopUtilization();
      const stamps = (consumer.state.stamps = { handed: [], committed: [] });
      const lat = await profiled('latency', () =>
        request<{ seconds: number; latencies: Float64Array; floor: Float64Array; increments: number; missing: number }>(
          worker,
          { type: 'pace', rate: o.latencyRate, total: paced, tickMs: 5, timeoutMs: 30_000, floorGroup: groups.floor },
          'paced',
          o.timeoutMs,
        ),
      );
      const pacedBusy = performance.eventLoopUtilization(elu1).utilization;
      const cpu2 = threadTimes();
      consumer.state.stamps = null;
      const calls2 = { ...consumer.state };
      if (lat.missing > 0) throw new Error(`${lat.missing} of ${lat.increments} paced stage increments never reached their subscriber`);
      await withTimeout(
        consumer.applied(o.events + paced),
        30_000,
        () => `the gateway applied ${consumer.state.applied} of ${o.events + paced} events`,
      );

      // Every event stored once: log lines, stage counts, no dead letters.
      const [check] = await app.db.sql.query<{ logs: number; items: number; dead: number }>(
        `select (select count(*) from run_logs)::int as logs,
                (select coalesce(sum(completed_items), 0) from run_stages)::int as items,
                (select count(*) from dead_letters)::int as dead`,
      );
      const expected = {
        logs: o.runs * (perRun - stagesPerRun + pacedPerRun - pacedStagesPerRun),
        items: o.runs * (stagesPerRun + pacedStagesPerRun),
        dead: 0,
      };
      if (check.logs !== expected.logs || check.items !== expected.items || check.dead !== 0) {
        throw new Error(`PostgreSQL holds ${JSON.stringify(check)}, expected ${JSON.stringify(expected)}`);
      }
      if (threadErrors.length) throw new Error(`client thread: ${threadErrors.join('; ')}`);

      const p50 = quantile(Array.from(lat.latencies), 0.5);
      const p99 = quantile(Array.from(lat.latencies), 0.99);
      /** The ingest calls (one transaction each) between two snapshots of the consumer's state. */
      const txs = (a: { calls: number; records: number; ms: number }, b: typeof a) =>
        `${b.calls - a.calls} transactions of ${((b.records - a.records) / (b.calls - a.calls)).toFixed(0)} records, ` +
        `${((b.ms - a.ms) / (b.calls - a.calls)).toFixed(1)} ms each`;
      const shape = `${o.events} events (${100 / o.logEvery} % log lines), ${o.runs} runs and subscribers, ${o.partitions} partitions`;
      const rows: BenchRow[] = [
        {
          bench: 'kafka',
          metric: 'broker → PostgreSQL → subscribers (events/s)',
          value: gatewayRate,
          baselineName: 'kafkajs consumer doing nothing (events/s)',
          baseline: plainRate,
          ratio: gatewayRate / plainRate,
          goal: { op: '>=', target: 0.5 },
          note:
            `${shape}; ${(gatewayMs / 1000).toFixed(1)} s against ${(plain.ms / 1000).toFixed(1)} s, first batch after ` +
            `${(consumer.state.firstAt - t0).toFixed(0)} / ${plain.firstBatchMs.toFixed(0)} ms`,
        },
        {
          bench: 'kafka',
          metric: 'broker → PostgreSQL → subscribers (events/s)',
          value: gatewayRate,
          baselineName: 'target (events/s)',
          baseline: TARGET_RATE,
          ratio: gatewayRate / TARGET_RATE,
          goal: { op: '>=', target: 1 },
          note:
            `last subscriber at ${((subscribersAt - t0) / 1000).toFixed(1)} s, last event committed at ` +
            `${((appliedAt - t0) / 1000).toFixed(1)} s; ${txs({ calls: 0, records: 0, ms: 0 }, calls1)}; ` +
            `gateway loop ${(busy * 100).toFixed(0)} % busy${cpuNote(cpu0, cpu1, o.events)}`,
        },
        {
          bench: 'kafka',
          metric: `produce → subscriber p99 at ${o.latencyRate} events/s (ms)`,
          value: p99,
          baselineName: 'budget (ms)',
          baseline: LATENCY_BUDGET_MS,
          ratio: p99 / LATENCY_BUDGET_MS,
          goal: { op: '<=', target: 1 },
          note:
            `p50 ${p50.toFixed(1)} ms (the ingest call at ${quantile(stamps.handed, 0.5).toFixed(0)}, committed and published at ` +
            `${quantile(stamps.committed, 0.5).toFixed(0)}; p99 ${quantile(stamps.handed, 0.99).toFixed(0)}, ${quantile(stamps.committed, 0.99).toFixed(0)}); ` +
            `${lat.increments} stage increments and ${paced - lat.increments} log lines over ${lat.seconds.toFixed(1)} s; ${txs(calls1, calls2)}; ` +
            `gateway loop ${(pacedBusy * 100).toFixed(0)} % busy${cpuNote(cpu1, cpu2, paced)}`,
        },
        {
          bench: 'kafka',
          metric: 'the floor: produce → a kafkajs consumer doing nothing, p99 (ms)',
          value: quantile(Array.from(lat.floor), 0.99),
          baselineName: 'budget (ms)',
          baseline: LATENCY_BUDGET_MS,
          ratio: quantile(Array.from(lat.floor), 0.99) / LATENCY_BUDGET_MS,
          goal: null,
          note: `p50 ${quantile(Array.from(lat.floor), 0.5).toFixed(1)} ms; the same paced increments, in a group of its own on the client thread, beside the gateway's consumer`,
        },
      ];
      return rows;
    } finally {
      for (const { name, fn } of cleanups.reverse()) {
        await fn().catch((err) => console.error(`kafka bench: ${name} failed: ${coerceError(err).message}`));
      }
    }
  },
};

export default bench;
if (require.main === module) runStandalone(bench);
