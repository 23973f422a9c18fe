/**
 * `GET /metrics` as Prometheus (and the operator reading it) sees it, on real PostgreSQL, Redis,
 * Kafka and Spark: a LOCAL run to SUCCEEDED moves the event counters, the run gauges and the apply
 * histogram; a WebSocket subscriber shows as a connection and a subscription while open and moves
 * the publish-to-delivery histogram; a bad request counts its error code; records left on a topic
 * show as consumer lag per partition; the Spark poller's cycles are timed; and who may scrape
 * follows the gateway's credentials.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateJobDocument, RunUpdatedDocument, StartJobDocument } from '../../client';
import type { App } from '../../src/app';
import { hashToken } from '../../src/auth/api-tokens';
import { loadConfig } from '../../src/config';
import { httpUrl, startTestApp, wsUrl } from '../helpers/app';
import { createTestDatabase, uniqueRedisPrefix } from '../helpers/db';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';
import { gql, ok, onlyError } from '../helpers/http';
import { createTestTopics, gatewayTopics, KAFKA_BROKERS, requireKafka, testKafka, testProducer } from '../helpers/kafka';
import { requireSpark, SPARK_REST_URL, SPARK_UI_URL } from '../helpers/spark';
import { createWsClient } from '../helpers/ws-client';

const ROOT = path.resolve(__dirname, '../..');
const disposables = new Disposables();
let dbUrl: string;
let app: App;

/** One sample line of the text format: `name{labels} value`. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the sample `name` whose labels include `labels`; undefined when there is none. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

async function scrape(target: App, headers: Record<string, string> = {}): Promise<{ status: number; text: string; type: string | null }> {
  const res = await fetch(`${target.url}/metrics`, { headers });
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
}

async function samples(target: App = app): Promise<Sample[]> {
  const res = await scrape(target);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${res.text}`);
  return parse(res.text);
}

/** Scrapes until `check` holds for a scrape (scrape-time gauges are cached for a few seconds). */
async function scrapeUntil(what: string, check: (s: Sample[]) => boolean, target: App = app, timeoutMs = 15_000): Promise<Sample[]> {
  return waitFor(
    async () => {
      const s = await samples(target);
      return check(s) ? s : null;
    },
    what,
    timeoutMs,
    200,
  );
}

beforeAll(async () => {
  const db = await createTestDatabase('metrics');
  disposables.defer(() => db.drop());
  dbUrl = db.url;
  app = await startTestApp({ databaseUrl: db.url, redisPrefix: uniqueRedisPrefix('metrics') });
  disposables.defer(() => app.stop());
});
afterAll(() => disposables.disposeAll());

describe('a LOCAL run watched over a WebSocket', () => {
  let jobId: string;
  let runId: string;

  it('counts the executor events by source, times the writer, counts the runs and times the deliveries', async () => {
    const name = `metrics-${crypto.randomBytes(3).toString('hex')}`;
    const { createJob } = ok(
      await gql(httpUrl(app), CreateJobDocument, {
        input: {
          name,
          source: { type: 'LOCAL', params: { path: path.join(ROOT, 'samples/orders.csv') } },
          destination: { schema: 'public', table: name.replace(/-/g, '_') },
        },
      }),
    );
    jobId = createJob.id;
    const ws = await createWsClient(wsUrl(app));
    disposables.defer(() => ws.dispose());
    const updates = ws.subscribe(RunUpdatedDocument, { jobId });
    // The socket and its subscription show while they are open.
    await scrapeUntil(
      'the WebSocket and its subscription to show',
      (s) => value(s, 'jobwire_websocket_connections') === 1 && value(s, 'jobwire_websocket_subscriptions', { field: 'runUpdated' }) === 1,
    );

    runId = ok(await gql(httpUrl(app), StartJobDocument, { id: jobId })).startJob.id;
    await updates.waitFor((m) => m.data?.runUpdated.status === 'SUCCEEDED', 60_000);

    const s = await scrapeUntil(
      'SUCCEEDED to be counted',
      (x) => (value(x, 'jobwire_runs', { status: 'SUCCEEDED', backend: 'LOCAL' }) ?? 0) >= 1,
    );
    // The executor's progress, logs, claims and the end of the run went through the writer as `local`.
    expect(value(s, 'jobwire_run_events_total', { source: 'local', outcome: 'applied' })).toBeGreaterThan(0);
    expect(value(s, 'jobwire_run_apply_duration_seconds_count', { operation: 'batch' })).toBeGreaterThan(0);
    expect(value(s, 'jobwire_run_apply_duration_seconds_count', { operation: 'create' })).toBeGreaterThan(0);
    // Every status × backend is there, 0 when none.
    expect(value(s, 'jobwire_runs', { status: 'QUEUED', backend: 'SPARK' })).toBe(0);
    expect(s.filter((x) => x.name === 'jobwire_runs')).toHaveLength(7 * 3);
    // The subscriber got the changes published on the bus: each delivery was timed.
    expect(value(s, 'jobwire_publish_to_delivery_seconds_count')).toBeGreaterThan(0);
    expect(value(s, 'jobwire_publish_to_delivery_seconds_bucket', { le: '+Inf' })).toBe(
      value(s, 'jobwire_publish_to_delivery_seconds_count'),
    );
    // The createJob and startJob requests were timed.
    expect(
      value(s, 'jobwire_graphql_request_duration_seconds_count', { transport: 'http', operation_type: 'mutation' }),
    ).toBeGreaterThanOrEqual(2);
    // Node's own.
    expect(value(s, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(value(s, 'nodejs_eventloop_lag_seconds')).toBeDefined();
    expect(value(s, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);

    updates.dispose();
    await scrapeUntil('the subscription to end', (x) => value(x, 'jobwire_websocket_subscriptions', { field: 'runUpdated' }) === 0);
    await ws.dispose();
    await scrapeUntil('the WebSocket to close', (x) => value(x, 'jobwire_websocket_connections') === 0);
  }, 90_000);

  it('labels nothing with a run, a job or a client-chosen name', async () => {
    const text = (await scrape(app)).text;
    expect(text).not.toContain(runId);
    expect(text).not.toContain(jobId);
    expect(text).not.toContain('orders.csv');
    // Label values come from small, fixed sets.
    const sources = new Set(parse(text).flatMap((s) => (s.name === 'jobwire_run_events_total' ? [s.labels.source] : [])));
    for (const source of sources) expect(['api', 'local', 'kafka', 'spark', 'scheduler', 'monitor', 'internal']).toContain(source);
  });

  it('counts the writer refusing an event as its outcome', async () => {
    // Retrying a run that SUCCEEDED is a CONFLICT: refused by the rules, counted under the mutations' source.
    const before = value(await samples(), 'jobwire_run_events_total', { source: 'api', outcome: 'rejected' }) ?? 0;
    const res = await gql(httpUrl(app), 'mutation($id: ID!) { retryRun(id: $id) { id } }', { id: runId });
    expect(onlyError(res).extensions?.code).toBe('CONFLICT');
    expect(value(await samples(), 'jobwire_run_events_total', { source: 'api', outcome: 'rejected' })).toBe(before + 1);
  });
});

describe('errors by code', () => {
  it('counts a bad request as BAD_USER_INPUT, over HTTP and over the WebSocket', async () => {
    const count = async (code: string) => value(await samples(), 'jobwire_graphql_errors_total', { code }) ?? 0;
    const before = await count('BAD_USER_INPUT');
    const res = await gql(httpUrl(app), CreateJobDocument, {
      input: { name: '', source: { type: 'LOCAL', params: { path: 'x.csv' } }, destination: { schema: 'public', table: 't' } },
    });
    expect(onlyError(res).extensions?.code).toBe('BAD_USER_INPUT');
    expect(await count('BAD_USER_INPUT')).toBe(before + 1);

    const notFound = await count('NOT_FOUND');
    const ws = await createWsClient(wsUrl(app));
    try {
      const sub = ws.subscribe(RunUpdatedDocument, { runId: '00000000-0000-7000-8000-000000000000' });
      const m = await sub.waitFor((x) => !!x.errors?.length);
      expect(m.errors![0].extensions?.code).toBe('NOT_FOUND');
    } finally {
      await ws.dispose();
    }
    expect(await count('NOT_FOUND')).toBe(notFound + 1);
  });
});

describe('who may scrape', () => {
  const VIEWER_TOKEN = `jw_${crypto.randomBytes(16).toString('hex')}`;
  let auth: App['config']['auth'];

  beforeAll(() => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-metrics-'));
    const file = path.join(dir, 'tokens');
    fs.writeFileSync(file, `viewer:${hashToken(VIEWER_TOKEN).toString('hex')}:prometheus\n`);
    auth = loadConfig({ API_TOKENS_FILE: file }).auth;
  });

  const gateway = async (over: Parameters<typeof startTestApp>[0]) => {
    const a = await startTestApp({
      databaseUrl: dbUrl,
      redisPrefix: uniqueRedisPrefix('metricsauth'),
      workers: false,
      migrate: false,
      ...over,
    });
    disposables.defer(() => a.stop());
    return a;
  };

  it('is open without credentials configured (the embedded default), in the Prometheus text format', async () => {
    const res = await scrape(app);
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.text).toContain('# TYPE jobwire_run_events_total counter');
  });

  it('needs a credential (a viewer is enough) once credentials are configured', async () => {
    const guarded = await gateway({ auth });
    const anonymous = await scrape(guarded);
    expect(anonymous.status).toBe(401);
    expect(anonymous.text).not.toContain('jobwire_');
    expect((await scrape(guarded, { authorization: 'Bearer jw_not-a-token' })).status).toBe(401);
    const viewer = await scrape(guarded, { authorization: `Bearer ${VIEWER_TOKEN}` });
    expect(viewer.status).toBe(200);
    expect(viewer.text).toContain('jobwire_runs{');
  });

  it('is open with credentials when METRICS_PUBLIC says so, and absent when METRICS_ENABLED is off', async () => {
    const open = await gateway({ auth, metricsPublic: true });
    expect((await scrape(open)).status).toBe(200);
    const off = await gateway({ metricsEnabled: false });
    expect((await scrape(off)).status).toBe(404);
    expect(off.metrics).toBeNull();
  });
});

describe('Kafka consumer lag', () => {
  it('shows records not yet consumed per topic and partition, from the broker', async () => {
    await requireKafka();
    const topics = await createTestTopics(path.basename(__filename), ['run-events', 'run-logs', 'run-commands', 'dead-letter'], {
      partitions: 2,
      disposables,
    });
    // Workers off: nothing consumes, so what is produced stays as lag.
    const kafkaApp = await startTestApp({
      databaseUrl: dbUrl,
      redisPrefix: uniqueRedisPrefix('metricskafka'),
      workers: false,
      migrate: false,
      kafkaBrokers: KAFKA_BROKERS,
      kafkaGroupId: topics.groupId('gateway'),
      kafkaTopics: gatewayTopics(topics),
    });
    disposables.defer(() => kafkaApp.stop());
    const producer = testProducer(testKafka('metrics-test'));
    await producer.connect();
    disposables.defer(() => producer.disconnect());
    const topic = topics.name('run-events');
    await producer.send({ topic, messages: [0, 1, 2].map((i) => ({ partition: 0, value: JSON.stringify({ i }) })) });
    await producer.send({ topic, messages: [{ partition: 1, value: '{}' }] });

    const s = await scrapeUntil(
      'the lag of the produced records',
      (x) => value(x, 'jobwire_kafka_consumer_lag_records', { topic, partition: '0' }) === 3,
      kafkaApp,
    );
    expect(value(s, 'jobwire_kafka_consumer_lag_records', { topic, partition: '1' })).toBe(1);
    expect(value(s, 'jobwire_kafka_consumer_lag_records', { topic: topics.name('run-logs'), partition: '0' })).toBe(0);
    expect(value(s, 'jobwire_kafka_consumer_connected')).toBe(0);
    expect(value(s, 'jobwire_kafka_dead_letters_pending')).toBe(0);
  }, 60_000);
});

describe('the Spark poller', () => {
  it('times its cycles against the real master, and counts the cycles that cannot reach it', async () => {
    await requireSpark();
    const db = await createTestDatabase('metricsspark');
    disposables.defer(() => db.drop());
    // No SPARK run: the poller still asks the master each cycle (one request for the whole cluster).
    const spark = await startTestApp({
      databaseUrl: db.url,
      redisPrefix: uniqueRedisPrefix('metricsspark'),
      sparkMasterUrl: SPARK_REST_URL,
      sparkMasterUiUrl: SPARK_UI_URL,
      sparkPollIntervalMs: 200,
    });
    disposables.defer(() => spark.stop());
    const s = await scrapeUntil(
      'a few poll cycles',
      (x) => (value(x, 'jobwire_spark_poll_duration_seconds_count', { leader: 'true' }) ?? 0) >= 3,
      spark,
    );
    expect(value(s, 'jobwire_spark_poll_duration_seconds_sum', { leader: 'true' })).toBeGreaterThan(0);
    expect(value(s, 'jobwire_spark_poll_errors_total', { kind: 'master_unreachable' })).toBeUndefined();

    // A master that does not answer: the cycles go on, each one counted as an error.
    await spark.stop();
    const away = await startTestApp({
      databaseUrl: db.url,
      redisPrefix: uniqueRedisPrefix('metricsspark'),
      migrate: false,
      sparkMasterUrl: SPARK_REST_URL,
      sparkMasterUiUrl: 'http://127.0.0.1:9',
      sparkPollIntervalMs: 200,
    });
    disposables.defer(() => away.stop());
    await scrapeUntil(
      'master_unreachable to be counted',
      (x) => (value(x, 'jobwire_spark_poll_errors_total', { kind: 'master_unreachable' }) ?? 0) >= 1,
      away,
    );
  }, 60_000);
});
