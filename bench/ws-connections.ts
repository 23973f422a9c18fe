/**
 * Connection-burst bench: N graphql-ws connections opened at R per interval against a gateway in a
 * process of its own (the built `dist/src/main.js`), each sending `connection_init` and waiting for
 * its `connection_ack`; beside it, in the same run, the same burst against a plain `ws` server in a
 * process of its own that acknowledges `connection_init` and does nothing else.
 *
 *   npm run build && npx ts-node --swc bench/ws-connections.ts          # 10,000 at 200 per 100 ms
 *   WS_CONNECTIONS=2000 npx ts-node --swc bench/ws-connections.ts
 *   WS_RATE=500 WS_INTERVAL_MS=100 npx ts-node --swc bench/ws-connections.ts
 *
 * Prints, for each server: connections acknowledged and failed (with why: refused, reset, closed with
 * a code, no ack within WS_ACK_TIMEOUT_MS, default 30 s), the time from opening to the ack (p50,
 * p99), the server's resident memory before and with every connection open, and whether every
 * acknowledged connection was still open WS_HOLD_MS (default 5 s, past the 3 s init timeout) later.
 * Mind `ulimit -n`: the client holds one descriptor per connection, each server as many (separate
 * processes, so each needs N plus a few hundred). Not part of `npm run bench` (it takes a minute and
 * needs the build); run it by hand. The clients pace themselves with a timer and log when they fall
 * behind it (the achieved rate is printed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { benchEnv, median, now, printTable, quantile, scratchDatabase, type BenchEnv, type BenchRow } from './lib';

/** How a burst is opened. */
export interface BurstOptions {
  /** `ws://…/graphql` (or the plain server's URL). */
  url: string;
  /** Connections in all. */
  count: number;
  /** Connections opened per tick. Default 200. */
  perTick?: number;
  /** Tick interval in ms. Default 100. */
  tickMs?: number;
  /** A connection not acknowledged this long after it was opened fails as `timeout`. Default 30 s. */
  ackTimeoutMs?: number;
}

/** What a burst came to. */
export interface Burst {
  acked: number;
  failed: number;
  /** Failures by reason (`ECONNRESET`, `close 4408`, `timeout` …). */
  reasons: Record<string, number>;
  /** Per acknowledged connection: ms from connecting to its `connection_ack`. */
  ackMs: number[];
  /** Wall time from the first connection opened to the last one settled (ms). */
  wallMs: number;
  /** The pace achieved: connections opened per second. */
  openedPerSecond: number;
  /** CPU time the client (this process) spent on the burst (ms). */
  clientCpuMs: number;
  /** Acknowledged connections that are open now. */
  open(): number;
  /** Closes every socket and resolves once they are all closed. */
  close(): Promise<void>;
}

/** A client frame (clients must mask: a zero key leaves the payload as it is, which servers accept). */
function maskedFrame(opcode: number, payload: Buffer): Buffer {
  if (payload.length > 125) throw new Error('maskedFrame: payload too long for this client');
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
}

const INIT_FRAME = maskedFrame(0x1, Buffer.from('{"type":"connection_init"}'));

/**
 * One graphql-transport-ws client on a bare TCP socket: the upgrade request, `connection_init`,
 * and just enough frame parsing to see `connection_ack`, a close frame (its code) and pings (answered
 * with pongs). A full client (ws's) costs about a millisecond of CPU per connection here, so a
 * burst of 2,000 per second would be paced by the client rather than by the server under test.
 */
class RawClient {
  readonly socket: net.Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private upgraded = false;
  closed = false;

  constructor(
    url: URL,
    private readonly settle: (reason: string | null) => void,
  ) {
    this.socket = net.connect({ host: url.hostname, port: Number(url.port), noDelay: true });
    const request =
      `GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n';
    this.socket.once('connect', () => this.socket.write(request));
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk));
    this.socket.on('error', (err: NodeJS.ErrnoException) => settle(err.code ?? err.message.slice(0, 60)));
    this.socket.on('close', () => {
      this.closed = true;
      settle('closed by the server');
    });
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    if (!this.upgraded) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = this.buffer.subarray(0, this.buffer.indexOf('\r\n')).toString();
      if (!/^HTTP\/1\.1 101 /.test(status)) return this.settle(`HTTP ${status.split(' ')[1] ?? '?'}`);
      this.upgraded = true;
      this.buffer = this.buffer.subarray(end + 4);
      this.socket.write(INIT_FRAME);
    }
    while (this.buffer.length >= 2) {
      const opcode = this.buffer[0] & 0x0f;
      let length = this.buffer[1] & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.buffer.length < 4) return;
        length = this.buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.buffer.length < 10) return;
        length = Number(this.buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (this.buffer.length < offset + length) return;
      const payload = this.buffer.subarray(offset, offset + length);
      this.buffer = this.buffer.subarray(offset + length);
      if (opcode === 0x1 && payload.includes('"connection_ack"')) this.settle(null);
      else if (opcode === 0x8) this.settle(`close ${payload.length >= 2 ? payload.readUInt16BE(0) : ''}`.trim());
      else if (opcode === 0x9) this.socket.write(maskedFrame(0xa, Buffer.from(payload)));
    }
  }
}

/**
 * Opens a burst of graphql-transport-ws connections: `perTick` new sockets every `tickMs`, each
 * sending `connection_init` once upgraded. Resolves once every connection is acknowledged or
 * failed (never rejects: failures are counted by reason). The sockets stay open until `close()`.
 */
export function openBurst(opts: BurstOptions): Promise<Burst> {
  const url = new URL(opts.url);
  const perTick = opts.perTick ?? 200;
  const tickMs = opts.tickMs ?? 100;
  const ackTimeoutMs = opts.ackTimeoutMs ?? 30_000;
  const clients: RawClient[] = [];
  const acked: RawClient[] = [];
  const ackMs: number[] = [];
  const reasons: Record<string, number> = {};
  let settled = 0;
  let opened = 0;
  const started = now();
  const cpu0 = process.cpuUsage();
  let lastOpened = started;

  return new Promise((resolve) => {
    const done = () => {
      const wallMs = now() - started;
      const cpu = process.cpuUsage(cpu0);
      resolve({
        clientCpuMs: (cpu.user + cpu.system) / 1000,
        acked: ackMs.length,
        failed: settled - ackMs.length,
        reasons,
        ackMs,
        wallMs,
        openedPerSecond: opened / ((lastOpened - started) / 1000 + tickMs / 1000),
        open: () => acked.filter((c) => !c.closed).length,
        close: () =>
          Promise.all(
            clients.map(
              (c) =>
                new Promise<void>((r) => {
                  if (c.closed) return r();
                  c.socket.once('close', () => r());
                  c.socket.destroy();
                }),
            ),
          ).then(() => undefined),
      });
    };
    const connect = () => {
      const t0 = now();
      let outcome: string | null = null;
      const settle = (reason: string | null) => {
        if (outcome !== null) return;
        outcome = reason ?? 'acked';
        clearTimeout(timer);
        if (reason === null) {
          acked.push(client);
          ackMs.push(now() - t0);
        } else {
          reasons[reason] = (reasons[reason] ?? 0) + 1;
          client.socket.destroy();
        }
        if (++settled === opts.count) done();
      };
      const timer = setTimeout(() => settle('timeout'), ackTimeoutMs);
      const client = new RawClient(url, settle);
      clients.push(client);
    };
    const tick = () => {
      for (let i = 0; i < perTick && opened < opts.count; i++, opened++) connect();
      lastOpened = now();
      if (opened < opts.count) setTimeout(tick, Math.max(0, started + (opened / perTick) * tickMs - now()));
    };
    tick();
  });
}

/** A server in a child process, with its URL and its resident memory. */
interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** Resident set size of the process now (bytes), from /proc. */
  rss(): number;
  /** CPU time (user + system) the process has used so far (ms), from /proc. */
  cpuMs(): number;
  stop(): Promise<void>;
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

function cpuMsOf(pid: number): number {
  // The fields after the command name (which may hold spaces, in parentheses): utime is the 12th, stime the 13th.
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
}

function rssOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) * 1024;
}

/** Spawns `args` with node and resolves with the URL `urlOf` finds in a line of its stdout. */
function spawnServer(args: string[], env: NodeJS.ProcessEnv, urlOf: (line: string) => string | null, what: string): Promise<ServerProcess> {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} not ready after 120 s:\n${out}`));
    }, 120_000);
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      for (const line of out.split('\n')) {
        const url = urlOf(line);
        if (!url) continue;
        clearTimeout(timer);
        child.stdout!.removeAllListeners('data');
        child.stdout!.resume();
        resolve({
          url,
          child,
          rss: () => rssOf(child.pid!),
          cpuMs: () => cpuMsOf(child.pid!),
          stop: () =>
            new Promise<void>((r) => {
              if (child.exitCode !== null || child.signalCode !== null) return r();
              child.once('exit', () => r());
              child.kill('SIGTERM');
              setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
            }),
        });
        return;
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code} before it was ready:\n${out}`));
    });
  });
}

/** The gateway as deployed: `dist/src/main.js` on a scratch database, workers off, listening on 127.0.0.1. */
async function spawnGatewayProcess(env: BenchEnv, databaseUrl: string): Promise<ServerProcess> {
  const entry = path.resolve(__dirname, '..', 'dist', 'src', 'main.js');
  if (!fs.existsSync(entry)) throw new Error('dist/src/main.js is missing: run `npm run build` first');
  return spawnServer(
    [entry],
    {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      PORT: String(env.port),
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      REDIS_URL: env.redisUrl,
      REDIS_PREFIX: env.redisPrefix,
      JOBWIRE_WORKERS: 'false',
      JOBWIRE_SEED_DEMO: 'false',
      LOG_LEVEL: 'info',
      ...(process.env.HTTP_BACKLOG ? { HTTP_BACKLOG: process.env.HTTP_BACKLOG } : {}),
    },
    (line) => (line.includes('"jobwire ready"') ? `${(JSON.parse(line) as { url: string }).url.replace(/^http/, 'ws')}/graphql` : null),
    'gateway',
  );
}

/** The baseline: a plain `ws` server (same backlog as the gateway's default) that acknowledges `connection_init`. */
function spawnPlainServer(): Promise<ServerProcess> {
  const script = `
    const http = require('node:http');
    const { WebSocketServer } = require(${JSON.stringify(require.resolve('ws'))});
    const server = http.createServer();
    const wss = new WebSocketServer({ server, handleProtocols: (p) => [...p][0] });
    wss.on('connection', (ws) => ws.on('message', (d) => {
      if (String(d).includes('connection_init')) ws.send('{"type":"connection_ack"}');
    }));
    server.listen({ port: 0, host: '127.0.0.1', backlog: Number(process.env.HTTP_BACKLOG || 4096) }, () =>
      console.log('listening ws://127.0.0.1:' + server.address().port));
    process.on('SIGTERM', () => process.exit(0));`;
  return spawnServer(
    ['-e', script],
    { PATH: process.env.PATH ?? '', ...(process.env.HTTP_BACKLOG ? { HTTP_BACKLOG: process.env.HTTP_BACKLOG } : {}) },
    (line) => /^listening (ws:\/\/\S+)$/.exec(line.trim())?.[1] ?? null,
    'plain ws server',
  );
}

interface Measured {
  burst: Burst;
  rssBefore: number;
  rssOpen: number;
  /** The server's CPU time from the first connection to the last one settled (ms). */
  cpuMs: number;
  stillOpen: number;
}

async function measureBurst(server: ServerProcess, opts: Omit<BurstOptions, 'url'>, holdMs: number): Promise<Measured> {
  const rssBefore = server.rss();
  const cpuBefore = server.cpuMs();
  const burst = await openBurst({ ...opts, url: server.url });
  const cpuMs = server.cpuMs() - cpuBefore;
  const rssOpen = server.rss();
  // Held past the init timeout and a keep-alive round: an accepted connection must stay accepted.
  await new Promise((r) => setTimeout(r, holdMs));
  const stillOpen = burst.open();
  await burst.close();
  return { burst, rssBefore, rssOpen, cpuMs, stillOpen };
}

const MB = 1024 * 1024;

/** The burst against the gateway and against the plain server; rows and a summary line each. */
export async function runWsConnections(env: BenchEnv): Promise<BenchRow[]> {
  const count = Number(process.env.WS_CONNECTIONS ?? (env.quick ? 2000 : 10_000));
  const opts = {
    count,
    perTick: Number(process.env.WS_RATE ?? 200),
    tickMs: Number(process.env.WS_INTERVAL_MS ?? 100),
    ackTimeoutMs: Number(process.env.WS_ACK_TIMEOUT_MS ?? 30_000),
  };
  const holdMs = Number(process.env.WS_HOLD_MS ?? 5000);
  console.log(
    `ws-connections: ${count} connections at ${opts.perTick} per ${opts.tickMs} ms; ulimit -n must exceed ${count} for each process; load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const db = await scratchDatabase(env, 'wsconn');
  const results: Record<'gateway' | 'plain', Measured> = {} as never;
  try {
    for (const [name, start] of [
      ['plain', () => spawnPlainServer()],
      ['gateway', () => spawnGatewayProcess(env, db.url)],
    ] as const) {
      const server = await start();
      try {
        results[name] = await measureBurst(server, opts, holdMs);
      } finally {
        await server.stop();
      }
      const { burst, rssBefore, rssOpen, cpuMs, stillOpen } = results[name];
      console.log(
        `${name.padEnd(7)} acked ${burst.acked}/${count}, failed ${burst.failed} ${JSON.stringify(burst.reasons)}; ` +
          `ack p50 ${median(burst.ackMs).toFixed(0)} ms, p99 ${quantile(burst.ackMs, 0.99).toFixed(0)} ms; ` +
          `opened ${burst.openedPerSecond.toFixed(0)}/s over ${(burst.wallMs / 1000).toFixed(1)} s ` +
          `(client CPU ${((burst.clientCpuMs * 1000) / count).toFixed(0)} µs per connection); ` +
          `server CPU ${((cpuMs * 1000) / count).toFixed(0)} µs per connection; ` +
          `RSS ${(rssBefore / MB).toFixed(0)} → ${(rssOpen / MB).toFixed(0)} MB; still open after ${holdMs} ms: ${stillOpen}`,
      );
    }
  } finally {
    await db.drop();
  }
  const g = results.gateway;
  const p = results.plain;
  const perConn = (m: Measured) => (m.rssOpen - m.rssBefore) / Math.max(1, m.burst.acked);
  return [
    {
      bench: 'ws-connections',
      metric: `graphql-ws connections acknowledged of ${count} (${opts.perTick} per ${opts.tickMs} ms)`,
      value: g.burst.acked,
      baselineName: 'plain ws server',
      baseline: p.burst.acked,
      ratio: g.burst.acked / Math.max(1, p.burst.acked),
      goal: { op: '>=', target: 1 },
      note: `failed ${g.burst.failed}; still open after ${holdMs} ms: ${g.stillOpen}`,
    },
    {
      bench: 'ws-connections',
      metric: 'open → connection_ack p99 (ms)',
      value: quantile(g.burst.ackMs, 0.99),
      baselineName: 'plain ws server',
      baseline: quantile(p.burst.ackMs, 0.99),
      ratio: quantile(g.burst.ackMs, 0.99) / Math.max(1, quantile(p.burst.ackMs, 0.99)),
      goal: null,
      note: `p50 ${median(g.burst.ackMs).toFixed(0)} vs ${median(p.burst.ackMs).toFixed(0)} ms`,
    },
    {
      bench: 'ws-connections',
      metric: 'server CPU per connection, upgrade to ack (µs)',
      value: (g.cpuMs * 1000) / count,
      baselineName: 'plain ws server',
      baseline: (p.cpuMs * 1000) / count,
      ratio: g.cpuMs / Math.max(1, p.cpuMs),
      goal: null,
    },
    {
      bench: 'ws-connections',
      metric: 'server RSS per open connection (KiB)',
      value: perConn(g) / 1024,
      baselineName: 'plain ws server',
      baseline: perConn(p) / 1024,
      ratio: perConn(g) / Math.max(1, perConn(p)),
      goal: null,
      note: `gateway RSS ${(g.rssBefore / MB).toFixed(0)} → ${(g.rssOpen / MB).toFixed(0)} MB`,
    },
  ];
}

if (require.main === module) {
  runWsConnections(benchEnv())
    .then((rows) => {
      printTable(rows);
      process.exit(0);
    })
    .catch((err) => {
      console.error('ws-connections failed:', err);
      process.exit(1);
    });
}
