/**
 * `npm run screenshots`: the dashboard's pages as PNGs in docs/screenshots/ (for the README).
 *
 * Builds the dashboard bundle, starts a gateway on the embedded default (PGlite in a throw-away
 * directory, the demo job seeded, LOCAL executor) on a free port, gives it something to show through
 * the public API — the demo job run to the end, a job whose file is missing (FAILED), a throttled
 * job caught mid-run — and photographs each page in headless Chromium (Debian's `chromium`):
 * overview, jobs, create job, run detail, dead letters. With `KAFKA_BROKERS` set the gateway
 * consumes topics of its own (removed at the end) and one malformed record makes a dead letter;
 * without it, the dead-letters page says Kafka is not configured.
 *
 * Options (env): `KAFKA_BROKERS`, `SCREENSHOTS_DIR` (default docs/screenshots), `TEST_CHROMIUM`
 * (default /usr/bin/chromium).
 */
import 'reflect-metadata';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import type { Page } from 'playwright-core';
import { CHROMIUM, launchBrowser } from '../test/helpers/browser';
import { createApp, type App } from '../src/app';
import { loadConfig } from '../src/config';
import { DEMO_JOB_NAME } from '../src/seed';
import { createJobwireClient, type JobwireClient } from '../client/jobwire-client';
import { CreateJobDocument, DashboardJobsDocument, IngestStatusDocument, RunDocument, StartJobDocument } from '../client/generated/graphql';

const ROOT = path.resolve(__dirname, '..');
const OUT = path.resolve(process.env.SCREENSHOTS_DIR ?? path.join(ROOT, 'docs', 'screenshots'));
const SAMPLE = path.join(ROOT, 'samples', 'orders.csv');
const TIMEOUT = 120_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` (a script that waits for the gateway, not a test: it may look again). */
async function until<T>(what: string, check: () => Promise<T | null | undefined | false>, timeoutMs = TIMEOUT): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`screenshots: timed out waiting for ${what}`);
    await sleep(250);
  }
}

async function runTo(jw: JobwireClient, runId: string, done: (r: { status: string; progress: number }) => boolean) {
  return until(`run ${runId}`, async () => {
    const { run } = await jw.request(RunDocument, { id: runId });
    return run && done(run) ? run : null;
  });
}

async function shoot(page: Page, url: string, file: string, ready: (p: Page) => Promise<unknown>) {
  await page.goto(url);
  await ready(page);
  await sleep(700); // let charts draw and transitions settle: a picture, not an assertion
  await page.screenshot({ path: path.join(OUT, file), fullPage: true });
  console.log(`  ${path.relative(process.cwd(), path.join(OUT, file))}`);
}

async function main() {
  // The script is plain JS (the build's own), so require it rather than import it.
  const { buildDashboard } = require('./build-dashboard.js') as { buildDashboard: () => Promise<unknown> };
  await buildDashboard();
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  fs.mkdirSync(OUT, { recursive: true });

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-screenshots-'));
  const suffix = crypto.randomBytes(3).toString('hex');
  const kafkaBrokers = process.env.KAFKA_BROKERS?.split(',').map((b) => b.trim());
  const kafkaTopics = {
    runEvents: `jobwire-shots-${suffix}.run-events`,
    runLogs: `jobwire-shots-${suffix}.run-logs`,
    runCommands: `jobwire-shots-${suffix}.run-commands`,
    deadLetter: `jobwire-shots-${suffix}.dead-letter`,
  };
  const config = loadConfig(
    {},
    {
      port: 0,
      host: '127.0.0.1',
      dataDir: path.join(tmp, 'data'),
      seedDemo: true,
      workers: true,
      logLevel: 'error',
      localSourceRoots: null,
      ...(kafkaBrokers ? { kafkaBrokers, kafkaTopics, kafkaGroupId: `jobwire-shots-${suffix}`, kafkaTopicPartitions: 1 } : {}),
    },
  );
  let app: App | undefined;
  // The gateway's own Kafka topics go once it has stopped consuming them.
  const dropTopics = async () => {
    if (!kafkaBrokers) return;
    const admin = new Kafka({ brokers: kafkaBrokers, clientId: 'jobwire-screenshots', logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: Object.values(kafkaTopics) }).catch(() => undefined);
    await admin.disconnect();
  };
  const browser = await launchBrowser();
  try {
    app = await createApp(config);
    const base = app.url;
    const jw = createJobwireClient({ url: `${base}/graphql`, webSocketImpl: require('ws') });

    // Something to show: the demo job run to the end, a job that fails, one that runs slowly.
    const { jobs } = await jw.request(DashboardJobsDocument, { first: 10 });
    const demo = jobs.edges.find((e) => e.node.name === DEMO_JOB_NAME)?.node;
    if (!demo) throw new Error('screenshots: the demo job was not seeded');
    const demoRun = (await jw.request(StartJobDocument, { id: demo.id })).startJob;
    const missing = (
      await jw.request(CreateJobDocument, {
        input: {
          name: 'invoices: missing export',
          tags: ['finance'],
          source: { type: 'LOCAL', params: { path: path.join(tmp, 'exports', 'invoices.csv') } },
          destination: { schema: 'finance', table: 'invoices' },
          maxAttempts: 1,
        },
      })
    ).createJob;
    await jw.request(CreateJobDocument, {
      input: {
        name: 'nightly: orders rollup',
        tags: ['nightly', 'demo'],
        description: 'Reloads the orders every night at 02:00.',
        source: { type: 'LOCAL', params: { path: SAMPLE } },
        destination: { schema: 'demo', table: 'orders_nightly' },
        schedule: { cron: '0 2 * * *', timezone: 'UTC' },
      },
    });
    const slow = (
      await jw.request(CreateJobDocument, {
        input: {
          name: 'orders: throttled backfill',
          tags: ['backfill'],
          source: { type: 'LOCAL', params: { path: SAMPLE } },
          destination: { schema: 'demo', table: 'orders_backfill' },
          processing: { batchSize: 100, maxRowsPerSecond: 150 },
        },
      })
    ).createJob;
    await runTo(jw, demoRun.id, (r) => r.status === 'SUCCEEDED');
    const failedRun = (await jw.request(StartJobDocument, { id: missing.id })).startJob;
    await runTo(jw, failedRun.id, (r) => r.status === 'FAILED');
    const slowRun = (await jw.request(StartJobDocument, { id: slow.id })).startJob;

    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'en-US', timezoneId: 'UTC' });
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);

    // The run page of the throttled run, watched from its start so the charts have a history.
    await page.goto(`${base}/#/runs/${slowRun.id}`);
    await page.getByLabel('Run status: RUNNING').waitFor();
    await runTo(jw, slowRun.id, (r) => r.progress >= 0.45);
    await sleep(500);
    await page.screenshot({ path: path.join(OUT, 'run-detail.png'), fullPage: true });
    console.log(`  ${path.relative(process.cwd(), path.join(OUT, 'run-detail.png'))}`);

    await shoot(page, `${base}/#/`, 'overview.png', (p) => p.getByRole('table', { name: 'Runs' }).waitFor());
    await shoot(page, `${base}/#/jobs`, 'jobs.png', (p) => p.getByRole('table', { name: 'Jobs' }).waitFor());
    await shoot(page, `${base}/#/jobs/new`, 'create-job.png', async (p) => {
      await p.getByLabel('Name').fill('orders: hourly load');
      await p.getByLabel('Tags').fill('orders, hourly');
      await p.getByLabel('Path').fill(SAMPLE);
      await p.getByLabel('Table').fill('');
      await p.getByRole('button', { name: 'Test connection' }).click();
      await p.getByRole('status').filter({ hasText: '✓' }).waitFor();
      await p.getByLabel('Preset').selectOption('medium');
      // One error from the API, shown beside its field: the destination table is missing.
      await p.getByRole('button', { name: 'Create job' }).click();
      await p.locator('.field-error').first().waitFor();
    });

    if (kafkaBrokers) {
      await until('the consumer to join', async () => (await jw.request(IngestStatusDocument, {})).ingestStatus?.connected);
      const kafka = new Kafka({ brokers: kafkaBrokers, clientId: 'jobwire-screenshots', logLevel: logLevel.NOTHING });
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({
        topic: kafkaTopics.runEvents,
        messages: [
          {
            key: slowRun.id,
            value: JSON.stringify({
              eventId: crypto.randomUUID(),
              runId: slowRun.id,
              type: 'run.status',
              attempt: 1,
              occurredAt: new Date().toISOString(),
              producer: 'worker-7',
              payload: { status: 'EXPLODED' },
            }),
          },
          { key: 'x', value: '{"truncated": ' },
        ],
      });
      await producer.disconnect();
      await until(
        'the dead letters',
        async () => ((await jw.request(IngestStatusDocument, {})).ingestStatus?.deadLettersPending ?? 0) >= 2,
      );
      await shoot(page, `${base}/#/dead-letters`, 'dead-letters.png', (p) => p.getByRole('table', { name: 'Dead letters' }).waitFor());
    } else {
      await shoot(page, `${base}/#/dead-letters`, 'dead-letters.png', (p) => p.getByText('Kafka is not configured').waitFor());
      console.log('  (KAFKA_BROKERS unset: the dead-letters page shows that Kafka is not configured)');
    }
    await jw.close();
  } finally {
    await browser.close();
    await app?.stop();
    await dropTopics().catch((err) =>
      console.warn(`screenshots: could not delete the topics ${Object.values(kafkaTopics).join(', ')}: ${err}`),
    );
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
