/**
 * Heap bench: the JavaScript heap one subscribed WebSocket connection holds in the gateway, against
 * a raw `ws` connection to a plain `ws` server.
 *
 *   npx ts-node --swc bench/heap.ts
 *   BENCH_QUICK=1 npx ts-node --swc bench/heap.ts                  # 500 connections
 *   HEAP_CONNECTIONS=5000 npx ts-node --swc bench/heap.ts           # mind `ulimit -n` (2 sockets each)
 *
 * One gateway in this process (bench/gateway.ts) and a RUNNING run. The clients live in a worker
 * thread, which has a V8 heap of its own, so this thread's heap holds only the servers' side. After
 * a full garbage collection (`--expose-gc`, or the flag set at run time), the heap is read
 * (`v8.getHeapStatistics().used_heap_size`), HEAP_CONNECTIONS (default 2000) connections are opened,
 * each with one `runUpdated(runId)` subscription that has received its first message (raw
 * graphql-transport-ws: connection_init, subscribe), the heap is collected and read again; the
 * difference divided by the connections is the figure. The baseline does the same with raw `ws`
 * connections to a plain `ws` server on another port of this process (no messages). Goal: ≤ 3×.
 */
import os from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Worker } from 'node:worker_threads';
import { WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import { createBenchJob, createBenchRun, startBenchGateway } from './gateway';
import { runStandalone, type Bench } from './lib';

/** `global.gc`, exposing it at run time when node was started without `--expose-gc`. */
function collector(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/** The heap in use after full collections (a few, so that weak references and finalizers settle). */
async function settledHeap(gc: () => void): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return v8.getHeapStatistics().used_heap_size;
}

/**
 * The clients' thread (plain JS). `open` connects `count` sockets to `url`; with `query` each one
 * speaks graphql-transport-ws, subscribes and waits for its first `next`, else it only connects.
 * `close` ends them all and waits until they are closed.
 */
const CLIENT_THREAD_JS = `
const { parentPort, workerData } = require('node:worker_threads');
const WebSocket = require(workerData.ws);
let sockets = [];
function connect(url, query, variables) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, query ? 'graphql-transport-ws' : undefined);
    ws.on('error', reject);
    if (!query) return ws.on('open', () => resolve(ws));
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init' })));
    ws.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.type === 'connection_ack') ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables } }));
      else if (m.type === 'next' && !m.payload.errors) resolve(ws);
      else if (m.type !== 'next') reject(new Error('subscribe failed: ' + JSON.stringify(m).slice(0, 500)));
    });
  });
}
parentPort.on('message', async (msg) => {
  try {
    if (msg.type === 'open') {
      for (let i = 0; i < msg.count; i += 50) {
        const batch = [];
        for (let j = i; j < Math.min(msg.count, i + 50); j++) batch.push(connect(msg.url, msg.query, msg.variables));
        sockets.push(...(await Promise.all(batch)));
      }
    } else if (msg.type === 'close') {
      await Promise.all(sockets.map((s) => new Promise((resolve) => { s.once('close', resolve); s.close(); })));
      sockets = [];
    }
    parentPort.postMessage({ ok: true });
  } catch (err) {
    parentPort.postMessage({ error: String((err && err.stack) || err) });
  }
});
`;

function ask(worker: Worker, message: object): Promise<void> {
  return new Promise((resolve, reject) => {
    worker.once('message', (m: { error?: string }) => (m.error ? reject(new Error(m.error)) : resolve()));
    worker.postMessage(message);
  });
}

/**
 * Heap per subscribed graphql-ws connection against a raw `ws` connection (goal ≤ 3×). Rejects when
 * a connection or subscription fails; the clients, the servers and the database go either way.
 */
export const heapBench: Bench = {
  name: 'heap',
  async run(env) {
    const count = Number(process.env.HEAP_CONNECTIONS ?? (env.quick ? 500 : 2000));
    const gc = collector();
    const worker = new Worker(CLIENT_THREAD_JS, { eval: true, workerData: { ws: require.resolve('ws') } });
    const gateway = await startBenchGateway(env, 'heap');
    const plain = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    try {
      await new Promise<void>((resolve) => (plain.address() ? resolve() : plain.once('listening', () => resolve())));
      const { app } = gateway;
      const run = await createBenchRun(app, await createBenchJob(app, 'bench heap'));
      const query = 'subscription($runId: ID!) { runUpdated(runId: $runId) { id status progress updatedAt stages { name status } } }';

      const perConnection = async (open: object) => {
        const before = await settledHeap(gc);
        await ask(worker, { type: 'open', count, ...open });
        const after = await settledHeap(gc);
        await ask(worker, { type: 'close' });
        return (after - before) / count;
      };
      // A first small round of each warms up what is allocated once (compiled code, caches, the channel).
      const rawUrl = `ws://127.0.0.1:${(plain.address() as AddressInfo).port}`;
      const gatewayOpen = { url: gateway.wsUrl, query, variables: { runId: run.id } };
      await ask(worker, { type: 'open', count: 50, url: rawUrl });
      await ask(worker, { type: 'close' });
      await ask(worker, { type: 'open', count: 50, ...gatewayOpen });
      await ask(worker, { type: 'close' });

      const raw = await perConnection({ url: rawUrl });
      const subscribed = await perConnection(gatewayOpen);
      return [
        {
          bench: 'heap',
          metric: `heap per subscribed graphql-ws connection, ${count} connections (bytes)`,
          value: subscribed,
          baselineName: 'raw ws connection (bytes)',
          baseline: raw,
          ratio: subscribed / raw,
          goal: { op: '<=', target: 3 },
          note: `server side only (clients in a worker thread); load ${os.loadavg()[0].toFixed(2)}`,
        },
      ];
    } finally {
      await worker.terminate();
      await new Promise<void>((resolve) => plain.close(() => resolve()));
      await gateway.stop();
    }
  },
};

if (require.main === module) runStandalone(heapBench);
