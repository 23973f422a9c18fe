/**
 * Reads bench: what a query over HTTP costs the gateway in CPU, against executing the same
 * operation in memory.
 *
 *   npx ts-node --swc bench/reads.ts
 *   BENCH_QUICK=1 npx ts-node --swc bench/reads.ts        # fewer requests
 *   READS_REQUESTS=5000 READS_ROUNDS=5 npx ts-node --swc bench/reads.ts
 *
 * One gateway in this process (bench/gateway.ts) on a scratch database holding 50 jobs, five of
 * them with a RUNNING run of three stages. For `jobs(first: 20)` (with each job's latest run) and
 * `run(id)` (with its stages, metrics, attempts and job) it measures:
 *
 * - **over HTTP**: READS_REQUESTS sequential POSTs from a client in a child process (its own CPU is
 *   not ours) over one keep-alive connection; the figure is this process's CPU (`process.cpuUsage`:
 *   Express, Apollo, the resolvers, the `pg` driver, every thread of the process) per request;
 * - **the baseline**: the same document executed with graphql's `execute` against the same schema,
 *   the services behind the resolvers answering from memory with the very views the gateway
 *   returned (no I/O, no transport), CPU per execution.
 *
 * Rounds alternate the two (READS_ROUNDS, default 3) after a warm-up; the median round is reported.
 * Goal: HTTP ≤ 3× the in-memory execution. Every response is checked for errors (a failing request
 * fails the bench rather than looking fast).
 */
import { SEARCH_PATH_OPTION } from '../src/db/db-schema';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { execute, parse, type DocumentNode, type ExecutionResult } from 'graphql';
import { Client, Pool } from 'pg';
import type { JobsApi, RunsApi } from '../src/api';
import type { JobView, RunView } from '../src/domain';
import type { GraphQLContext } from '../src/graphql/context';
import { makeLogger } from '../src/logger';
import { createBenchJob, createBenchRun, startBenchGateway } from './gateway';
import { measure, median, runStandalone, type Bench, type BenchRow } from './lib';

const JOBS_QUERY = `query Jobs {
  jobs(first: 20) {
    totalCount
    edges { cursor node { id name description tags backend status maxAttempts createdAt updatedAt latestRun { id status progress updatedAt } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const RUN_QUERY = `query Run($id: ID!) {
  run(id: $id) {
    id number attempt trigger status backend progress deadLettered queuedAt startedAt finishedAt updatedAt
    error { kind message }
    stages { name status totalItems completedItems failedItems progress totalIsEstimate updatedAt }
    metrics { timestamp recordsProcessed recordsFailed throughputRps }
    attempts { attempt status startedAt finishedAt }
    job { id name }
  }
}`;

/**
 * The client, a child process (plain JS, `node -e`) talking over IPC: on `{ url, n, body }` it POSTs
 * `body` to `url` n times, one after the other, over a keep-alive connection, and answers `{ ok }`
 * or `{ error }` (the first response that is not a 200 without errors).
 */
const CLIENT_JS = `
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function post(url, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ agent, host: url.hostname, port: url.port, path: url.pathname, method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
process.on('message', async ({ url, n, body }) => {
  try {
    for (let i = 0; i < n; i++) {
      const r = await post(new URL(url), body);
      if (r.status !== 200 || r.text.includes('"errors"')) throw new Error('request failed: ' + r.status + ' ' + r.text.slice(0, 500));
    }
    process.send({ ok: true });
  } catch (err) {
    process.send({ error: String(err && err.stack || err) });
  }
});
`;

function requestsFromClient(client: ChildProcess, url: string, n: number, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { ok?: boolean; error?: string }) => {
      client.off('exit', onExit);
      if (m.error) reject(new Error(m.error));
      else resolve();
    };
    const onExit = (code: number | null) => reject(new Error(`the client process exited (${code})`));
    client.once('message', onMessage);
    client.once('exit', onExit);
    client.send({ url, n, body });
  });
}

/** The services behind the resolvers, answering from memory with the views the gateway returned. */
function inMemoryContext(jobsPage: Awaited<ReturnType<JobsApi['list']>>, runs: Map<string, RunView>, jobs: Map<string, JobView>) {
  const jobsApi = {
    list: async () => jobsPage,
    get: async (id: string) => jobs.get(id) ?? null,
    getMany: async (ids: readonly string[]) => ids.map((id) => jobs.get(id) ?? null),
  } as unknown as JobsApi;
  const runsApi = {
    get: async (id: string) => runs.get(id) ?? null,
    getMany: async (ids: readonly string[]) => ids.map((id) => runs.get(id) ?? null),
  } as unknown as RunsApi;
  const logger = makeLogger('silent');
  return (): GraphQLContext =>
    ({
      jobs: jobsApi,
      runs: runsApi,
      live: undefined as never,
      logger,
      requestId: 'bench',
      loaders: {
        job: { load: (id: string) => jobsApi.getMany([id]).then((r) => r[0]) },
        run: { load: (id: string) => runsApi.getMany([id]).then((r) => r[0]) },
      },
    }) as unknown as GraphQLContext;
}

/** How many SQL statements `fn` sends through `pg` (every pool and client of this process). */
async function countStatements(fn: () => Promise<unknown>): Promise<number> {
  const proto = Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const query = proto.query;
  let n = 0;
  proto.query = function (this: unknown, ...args: unknown[]) {
    n++;
    return query.apply(this, args);
  };
  try {
    await fn();
  } finally {
    proto.query = query;
  }
  return n;
}

/**
 * The floor under a read on this machine: a plain `node:http` server in this process that, for each
 * POST, parses the JSON body, sends as many trivial SQL statements as the gateway sent for that
 * operation (one after the other) and answers with the very bytes the gateway answered. No Express,
 * no Apollo, no GraphQL, no rows to make views of: the socket and database I/O any read pays.
 */
async function startFloorServer(databaseUrl: string) {
  const pool = new Pool({ connectionString: databaseUrl, max: 2, options: SEARCH_PATH_OPTION });
  let current = { statements: 0, reply: '{}' };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
      for (let i = 0; i < current.statements; i++) await pool.query({ name: 'floor', text: 'select $1::int as n', values: [i] });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(current.reply) });
      res.end(current.reply);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`,
    serve(statements: number, reply: string) {
      current = { statements, reply };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.end();
    },
  };
}

interface Operation {
  name: string;
  document: DocumentNode;
  body: string;
  variables?: Record<string, unknown>;
}

/**
 * `jobs(first: 20)` and `run(id)` over HTTP against their in-memory execution (goal ≤ 3× each), CPU
 * per request. Rejects when a request fails; the gateway and its database go either way.
 */
export const readsBench: Bench = {
  name: 'reads',
  async run(env) {
    const requests = Number(process.env.READS_REQUESTS ?? (env.quick ? 300 : 2000));
    const rounds = Number(process.env.READS_ROUNDS ?? 3);
    const gateway = await startBenchGateway(env, 'reads');
    let client: ChildProcess | undefined;
    const cleanups: (() => Promise<void>)[] = [];
    try {
      const { app } = gateway;
      const jobs: JobView[] = [];
      for (let i = 0; i < 50; i++) jobs.push(await createBenchJob(app, `bench reads ${String(i).padStart(2, '0')}`));
      // The newest jobs (the first page) get the runs, so `latestRun` has something to load.
      const runs = new Map<string, RunView>();
      for (const job of jobs.slice(-5)) {
        const run = await createBenchRun(app, job);
        runs.set(run.id, run);
      }
      const runId = [...runs.keys()][0];
      const page = await app.jobs.list(null, { first: 20 });
      const jobsById = new Map((await app.jobs.getMany(jobs.map((j) => j.id))).map((j) => [j!.id, j!]));
      const memoryContext = inMemoryContext(page, runs, jobsById);

      const operations: Operation[] = [
        { name: 'jobs(first: 20)', document: parse(JOBS_QUERY), body: JSON.stringify({ query: JOBS_QUERY }) },
        {
          name: 'run(id)',
          document: parse(RUN_QUERY),
          variables: { id: runId },
          body: JSON.stringify({ query: RUN_QUERY, variables: { id: runId } }),
        },
      ];

      const inMemory = async (op: Operation, n: number) => {
        for (let i = 0; i < n; i++) {
          const result = (await execute({
            schema: app.schema,
            document: op.document,
            variableValues: op.variables,
            contextValue: memoryContext(),
          })) as ExecutionResult;
          if (result.errors?.length) throw new Error(`in-memory ${op.name} failed: ${result.errors[0].message}`);
        }
      };

      client = spawn(process.execPath, ['-e', CLIENT_JS], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const floor = await startFloorServer(app.config.databaseUrl!);
      cleanups.push(() => floor.close());
      const rows: BenchRow[] = [];
      for (const op of operations) {
        // Warm-up: JIT, Apollo's document cache, pg's prepared statements, the keep-alive socket.
        await requestsFromClient(client, gateway.httpUrl, Math.max(100, requests / 5), op.body);
        await inMemory(op, Math.max(100, requests / 5));
        const http: number[] = [];
        const memory: number[] = [];
        let system = 0;
        for (let r = 0; r < rounds; r++) {
          const sys0 = process.cpuUsage().system;
          http.push((await measure(() => requestsFromClient(client!, gateway.httpUrl, requests, op.body))).cpuMs / requests);
          system += (process.cpuUsage().system - sys0) / 1000;
          memory.push((await measure(() => inMemory(op, requests))).cpuMs / requests);
        }
        const systemShare = system / (http.reduce((a, b) => a + b, 0) * requests);
        // The floor for this operation: its statement count and its response bytes, from the gateway.
        let reply = '';
        const statements = await countStatements(async () => {
          const res = await fetch(gateway.httpUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: op.body });
          reply = await res.text();
        });
        floor.serve(statements, reply);
        await requestsFromClient(client, floor.url, Math.max(100, requests / 5), op.body);
        const floorRuns: number[] = [];
        for (let r = 0; r < rounds; r++) {
          floorRuns.push((await measure(() => requestsFromClient(client!, floor.url, requests, op.body))).cpuMs / requests);
        }
        const floorMs = median(floorRuns);
        const value = median(http) * 1000;
        const baseline = median(memory) * 1000;
        rows.push({
          bench: 'reads',
          metric: `${op.name} over HTTP, CPU per request (µs)`,
          value,
          baselineName: 'in-memory execute (µs)',
          baseline,
          ratio: value / baseline,
          goal: { op: '<=', target: 3 },
          note: `median of ${rounds} rounds × ${requests}; rounds ${http.map((x) => (x * 1000).toFixed(0)).join('/')} vs ${memory
            .map((x) => (x * 1000).toFixed(0))
            .join('/')} µs; ${(systemShare * 100).toFixed(0)} % of the HTTP CPU in the kernel; load ${os.loadavg()[0].toFixed(2)}`,
        });
        rows.push({
          bench: 'reads',
          metric: `${op.name} over HTTP, CPU per request (µs)`,
          value,
          baselineName: `floor: plain node:http, ${statements} trivial SQL statement(s), same response bytes (µs)`,
          baseline: floorMs * 1000,
          ratio: value / (floorMs * 1000),
          goal: null,
          note: 'the I/O this machine charges for any such request',
        });
      }
      return rows;
    } finally {
      client?.kill();
      for (const cleanup of cleanups) await cleanup();
      await gateway.stop();
    }
  },
};

if (require.main === module) runStandalone(readsBench);
