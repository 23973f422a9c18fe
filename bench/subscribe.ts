/**
 * Subscribe bench: the CPU the gateway spends on one graphql-ws `subscribe`, from the message to
 * its first `next` (limits, context, the live stream's bus subscription and snapshot read, the
 * execution of the first message and its send).
 *
 *   npx ts-node --swc bench/subscribe.ts
 *   BENCH_QUICK=1 npx ts-node --swc bench/subscribe.ts             # fewer subscribes
 *   SUBSCRIBES=2000 SUBSCRIBE_SOCKETS=10 npx ts-node --swc bench/subscribe.ts
 *
 * One gateway in this process (bench/gateway.ts) and a RUNNING run with three stages. A client in a
 * child process (its CPU is not ours) opens SUBSCRIBE_SOCKETS sockets (default 5) with the raw
 * graphql-transport-ws protocol and sends SUBSCRIBES subscribes (default 500) of one operation, one
 * after the other, each waiting for its first `next`; the subscriptions stay open, as a dashboard's
 * would. The figure is this process's CPU (`process.cpuUsage`, every thread) per subscribe, for
 * `runUpdated(runId)` and for `stageProgress(runId)` (whose snapshot is one message per stage).
 * Goal: ≤ 1 ms each. Beside it, for context, an in-process `execute` of the same selection on the
 * in-memory view (what every later event costs to execute once), and the floor: the same client
 * against a plain `ws` server in this process answering each subscribe with one SQL statement and
 * one message (the socket and database I/O any subscribe pays).
 */
import { SEARCH_PATH_OPTION } from '../src/db/db-schema';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { execute, parse, type ExecutionResult } from 'graphql';
import { Pool } from 'pg';
import { WebSocketServer } from 'ws';
import { createBenchJob, createBenchRun, startBenchGateway } from './gateway';
import { measure, median, quantile, runStandalone, type Bench, type BenchRow } from './lib';

const OPERATIONS = [
  {
    field: 'runUpdated',
    query:
      'subscription($runId: ID!) { runUpdated(runId: $runId) { id status attempt progress updatedAt error { kind message } metrics { recordsProcessed throughputRps } stages { name status completedItems totalItems } } }',
  },
  {
    field: 'stageProgress',
    query:
      'subscription($runId: ID!) { stageProgress(runId: $runId) { name status totalItems completedItems failedItems progress updatedAt } }',
  },
] as const;

/**
 * The client (plain JS, `node -e`, over IPC). `open` connects `sockets` sockets and acknowledges
 * them; `subscribe` sends `n` subscribes of `query` round-robin over the sockets, one after the
 * other, each waiting for its first `next` (an `error` message fails the run), and answers with the
 * wall time of each; `close` ends every socket.
 */
const CLIENT_JS = `
const WebSocket = require(process.env.WS_MODULE);
let sockets = [];
let nextId = 0;
const waiting = new Map();
function open(url, n) {
  return Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'graphql-transport-ws');
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init' })));
    ws.on('error', reject);
    ws.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.type === 'connection_ack') return resolve(ws);
      const w = waiting.get(m.id);
      if (!w) return;
      waiting.delete(m.id);
      if (m.type === 'next' && !m.payload.errors) w.resolve();
      else w.reject(new Error('subscribe failed: ' + JSON.stringify(m).slice(0, 500)));
    });
  })));
}
process.on('message', async (msg) => {
  try {
    if (msg.type === 'open') { sockets = await open(msg.url, msg.sockets); return process.send({ ok: true }); }
    if (msg.type === 'close') { for (const s of sockets) s.close(); return process.send({ ok: true }); }
    const walls = [];
    for (let i = 0; i < msg.n; i++) {
      const id = String(++nextId);
      const t0 = performance.now();
      await new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        sockets[i % sockets.length].send(JSON.stringify({ id, type: 'subscribe', payload: { query: msg.query, variables: msg.variables } }));
      });
      walls.push(performance.now() - t0);
    }
    process.send({ ok: true, walls });
  } catch (err) {
    process.send({ error: String((err && err.stack) || err) });
  }
});
`;

/**
 * The floor under a subscribe on this machine: a plain `ws` server in this process that answers
 * each subscribe message with one SQL statement (the run's row, like the snapshot read) and one
 * `next` message made with JSON.stringify, no GraphQL at all. Same client, same sockets' count.
 */
async function startFloorServer(databaseUrl: string) {
  const pool = new Pool({ connectionString: databaseUrl, max: 2, options: SEARCH_PATH_OPTION });
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  wss.on('connection', (socket) => {
    socket.on('message', (data) => {
      const m = JSON.parse(String(data)) as { id?: string; type: string; payload?: { variables?: { runId?: string } } };
      if (m.type === 'connection_init') return socket.send('{"type":"connection_ack"}');
      if (m.type !== 'subscribe') return;
      pool
        .query({ name: 'floor_run', text: 'select * from runs where id = $1', values: [m.payload?.variables?.runId] })
        .then((r) => socket.send(JSON.stringify({ id: m.id, type: 'next', payload: { data: { run: r.rows[0] ?? null } } })))
        .catch((err: Error) => socket.send(JSON.stringify({ id: m.id, type: 'error', payload: [{ message: err.message }] })));
    });
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    async close() {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await pool.end();
    },
  };
}

function ask<T>(client: ChildProcess, message: object): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: T & { error?: string }) => {
      client.off('exit', onExit);
      if (m.error) reject(new Error(m.error));
      else resolve(m);
    };
    const onExit = (code: number | null) => reject(new Error(`the client process exited (${code})`));
    client.once('message', onMessage);
    client.once('exit', onExit);
    client.send(message);
  });
}

/**
 * CPU per subscribe of `runUpdated(runId)` and `stageProgress(runId)` against a 1 ms budget (goal
 * ≤ 1 ms), with the in-memory execution of the same selection beside it. Rejects when a subscribe
 * fails; the client, the gateway and its database go either way.
 */
export const subscribeBench: Bench = {
  name: 'subscribe',
  async run(env) {
    const n = Number(process.env.SUBSCRIBES ?? (env.quick ? 100 : 500));
    const socketCount = Number(process.env.SUBSCRIBE_SOCKETS ?? 5);
    const gateway = await startBenchGateway(env, 'subscribe');
    let client: ChildProcess | undefined;
    try {
      const { app } = gateway;
      const run = await createBenchRun(app, await createBenchJob(app, 'bench subscribe'));
      const stages = await app.runs.stages(run.id);
      client = spawn(process.execPath, ['-e', CLIENT_JS], {
        env: { ...process.env, WS_MODULE: require.resolve('ws') },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      await ask(client, { type: 'open', url: gateway.wsUrl, sockets: socketCount });
      const rows: BenchRow[] = [];
      for (const op of OPERATIONS) {
        const variables = { runId: run.id };
        // Warm-up: JIT, the bus channel's Redis SUBSCRIBE, pg's prepared statements.
        await ask(client, { type: 'subscribe', n: Math.max(20, n / 10), query: op.query, variables });
        const { result, cpuMs } = await measure(() =>
          ask<{ walls: number[] }>(client!, { type: 'subscribe', n, query: op.query, variables }),
        );
        const perSubscribe = cpuMs / n;

        const document = parse(op.query);
        const root = op.field === 'runUpdated' ? run : stages[0];
        const executions = 2000;
        const { cpuMs: execMs } = await measure(async () => {
          for (let i = 0; i < executions; i++) {
            const r = (await execute({ schema: app.schema, document, rootValue: root, variableValues: variables })) as ExecutionResult;
            if (r.errors?.length) throw new Error(`in-memory ${op.field} failed: ${r.errors[0].message}`);
          }
        });
        const perExecute = execMs / executions;
        const note = `${n} subscribes over ${socketCount} sockets, wall p50 ${median(result.walls).toFixed(2)} / p99 ${quantile(result.walls, 0.99).toFixed(2)} ms; load ${os.loadavg()[0].toFixed(2)}`;
        rows.push(
          {
            bench: 'subscribe',
            metric: `${op.field}(runId): CPU per subscribe (ms)`,
            value: perSubscribe,
            baselineName: 'budget (ms)',
            baseline: 1,
            ratio: perSubscribe,
            goal: { op: '<=', target: 1 },
            note,
          },
          {
            bench: 'subscribe',
            metric: `${op.field}(runId): CPU per subscribe (ms)`,
            value: perSubscribe,
            baselineName: 'in-memory execute of the selection (ms)',
            baseline: perExecute,
            ratio: perSubscribe / perExecute,
            goal: null,
            note: 'for context',
          },
        );
      }
      await ask(client, { type: 'close' });

      const floor = await startFloorServer(app.config.databaseUrl!);
      try {
        await ask(client, { type: 'open', url: floor.url, sockets: socketCount });
        const variables = { runId: run.id };
        await ask(client, { type: 'subscribe', n: Math.max(20, n / 10), query: '', variables });
        const { cpuMs } = await measure(() => ask(client!, { type: 'subscribe', n, query: '', variables }));
        await ask(client, { type: 'close' });
        for (const row of rows.filter((r) => r.goal)) {
          rows.push({
            bench: 'subscribe',
            metric: row.metric,
            value: row.value,
            baselineName: 'floor: plain ws message in, one SQL statement, one message out (ms)',
            baseline: cpuMs / n,
            ratio: row.value / (cpuMs / n),
            goal: null,
            note: 'the I/O this machine charges for any subscribe',
          });
        }
      } finally {
        await floor.close();
      }
      return rows;
    } finally {
      client?.kill();
      await gateway.stop();
    }
  },
};

if (require.main === module) runStandalone(subscribeBench);
