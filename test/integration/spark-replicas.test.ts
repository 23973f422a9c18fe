/**
 * Two gateways against one Spark cluster, with a small proxy of the test's own in front of the
 * master (it counts every request, and can stop answering as a master that went away would). The
 * gateways' poll cycles are driven by hand (`pollOnce`, workers off), so the counts are exact: one
 * master request per cycle in total, whichever replica holds the lease; while the master cannot be
 * reached the run is left as it is (its engineState and /readyz say so), and once it answers again
 * the run converges to what Spark says. No Kafka: stage counts and driver logs come from the poller.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { App } from '../../src/app';
import { ExecutionBackend, RunStatus, SourceType } from '../../src/domain';
import { MASTER_UNREACHABLE } from '../../src/backends/spark/spark-poll.service';
import { startTestApp } from '../helpers/app';
import { createTestDatabase, uniqueRedisPrefix } from '../helpers/db';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';
import { requireSpark, sparkAppJar, SPARK_REST_URL, SPARK_UI_URL } from '../helpers/spark';

const disposables = new Disposables();
let a: App;
let b: App;
let masterRequests = 0;
let down = false;

/** Forwards to the master's web UI, counting `/json/` requests; while `down`, answers nothing (the socket is destroyed). */
async function masterProxy(): Promise<string> {
  const target = new URL(SPARK_UI_URL);
  const server = http.createServer((req, res) => {
    if (down) return req.socket.destroy();
    if (req.url?.startsWith('/json')) masterRequests++;
    const upstream = http.request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  disposables.defer(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  await requireSpark();
  const proxy = await masterProxy();
  const db = disposables.add(await createTestDatabase('sparkreplicas'), (d) => d.drop());
  const shared = {
    databaseUrl: db.url,
    redisPrefix: uniqueRedisPrefix('sparkreplicas'),
    sparkMasterUrl: SPARK_REST_URL,
    sparkMasterUiUrl: proxy,
    sparkAppJar: sparkAppJar(),
    workers: false,
  };
  a = await startTestApp(shared);
  disposables.defer(() => a.stop());
  b = await startTestApp({ ...shared, migrate: false });
  disposables.defer(() => b.stop());
}, 120_000);
afterAll(() => disposables.disposeAll());

/** One cycle of each replica, as their pollers would run them; the reports of both. */
const cycle = async () => Promise.all([a.core.sparkPoll!.pollOnce(), b.core.sparkPoll!.pollOnce()]);

it('two replicas ask the master once per cycle in all; a master that goes away leaves the run as it is, and it converges when it is back', async () => {
  const job = await a.jobs.create({
    name: 'spark-replicas-sleep',
    backend: ExecutionBackend.SPARK,
    source: { type: SourceType.LOCAL, params: { path: '/dev/null' } },
    destination: { schema: 'public', table: 'unused' },
    processing: { sparkApplication: { appResource: sparkAppJar(), mainClass: 'dev.jobwire.spark.examples.Sleep', args: ['2', '8000'] } },
    maxAttempts: 1,
  });
  const run = await b.runs.start(job.id);
  expect(run).toMatchObject({ status: RunStatus.QUEUED, engineState: 'SUBMITTED' });

  // Until Spark runs the driver: every cycle of both replicas together asks the master once.
  let cycles = 0;
  const before = masterRequests;
  await waitFor(
    async () => {
      const reports = await cycle();
      cycles++;
      expect(reports.filter((r) => r.leader)).toHaveLength(1);
      return (await a.runs.get(run.id))!.status === RunStatus.RUNNING;
    },
    'the run to be RUNNING',
    240_000,
  );
  expect(masterRequests - before).toBe(cycles);

  // The master goes away: nothing is failed, the run says why it is not moving.
  down = true;
  const [ra, rb] = await cycle();
  expect([ra, rb].find((r) => r.leader)!.masterError).toMatch(/cannot be reached/);
  const stalled = (await a.runs.get(run.id))!;
  expect(stalled).toMatchObject({ status: RunStatus.RUNNING, engineState: MASTER_UNREACHABLE });
  const leader = ra.leader ? a : b;
  const readyz = await fetch(`${leader.url}/readyz`).then((r) => r.json() as Promise<{ checks: Record<string, string> }>);
  // /readyz reports the poller of the gateways that run workers; here the poll service says it.
  expect(leader.core.sparkPoll!.readiness()).toMatch(/^spark master unreachable/);
  expect(readyz.checks.database).toBe('ok');

  // Back: the run converges to Spark's own truth (the driver went on running, and ends).
  down = false;
  await waitFor(
    async () => {
      await cycle();
      return (await a.runs.get(run.id))!.status === RunStatus.SUCCEEDED;
    },
    'the run to converge to SUCCEEDED',
    240_000,
  );
  expect((await a.runs.get(run.id))!).toMatchObject({ status: RunStatus.SUCCEEDED, engineState: 'FINISHED' });
  // No Kafka here: the stage counts and the driver's log lines came from the poller alone.
  const stages = await a.runs.stages(run.id);
  expect(stages.length).toBeGreaterThan(0);
  expect(stages.every((st) => /^stage \d+: /.test(st.name) && st.completedItems === st.totalItems && st.totalItems === 2)).toBe(true);
  const logs = await a.runs.logs(run.id, { first: 500 });
  expect(logs.edges.some((e) => e.node.source === 'driver stdout' && /tasks slept 8000 ms each/.test(e.node.message))).toBe(true);

  // The leader stops: the other replica takes the lease at its next cycle.
  await leader.core.sparkPoll!.release();
  const other = leader === a ? b : a;
  expect((await other.core.sparkPoll!.pollOnce()).leader).toBe(true);
}, 600_000);
