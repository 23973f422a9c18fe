/**
 * The dashboard at `/`, in headless Chromium (Debian's chromium driven by playwright-core): a user
 * creates a job (seeing the field the API refuses first), starts it and watches its stage bars
 * reach 100 % and its log lines arrive, stops a slow run, sees a run started elsewhere appear in the
 * runs list and the counts move without a reload, and signs in with a token when auth is on.
 *
 * The gateway runs in this process on the test's own database (LOCAL executor on) and serves the
 * built bundle, dist/dashboard: run `npm run build` first (the test says so when it is stale).
 * Skipped, saying why, only when Chromium is not installed (.ci/run installs it).
 */
import 'reflect-metadata';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { App } from '../../src/app';
import { hashToken } from '../../src/auth/api-tokens';
import { loadConfig } from '../../src/config';
import { CreateJobDocument, StartJobDocument, type CreateJobInput } from '../../client/generated/graphql';
import { startTestApp } from '../helpers/app';
import { chromiumMissing, launchBrowser, newPage } from '../helpers/browser';
import { builtEntry } from '../helpers/build';
import { createTestDatabase, uniqueRedisPrefix } from '../helpers/db';
import { Disposables } from '../helpers/disposables';
import { gql, ok } from '../helpers/http';

const ORDERS_CSV = path.resolve(__dirname, '../../samples/orders.csv');
const LONG = 180_000;
const missing = chromiumMissing();
if (missing) console.warn(`dashboard browser tests skipped: ${missing}`);
const describeInBrowser = missing ? describe.skip : describe;

const disposables = new Disposables();
let browser: Browser;
let app: App;
let api: string;
let page: Page;
let pageErrors: string[];

const suffix = () => crypto.randomBytes(3).toString('hex');
const job = (over: Partial<CreateJobInput> = {}): CreateJobInput => ({
  name: `api-${suffix()}`,
  source: { type: 'LOCAL', params: { path: ORDERS_CSV } },
  destination: { schema: 'public', table: `orders_${suffix()}` },
  ...over,
});
const createJob = async (over: Partial<CreateJobInput> = {}) => ok(await gql(api, CreateJobDocument, { input: job(over) })).createJob;

/** Resolves once every stage bar of the run page stands at 100 %. */
const stagesComplete = (p: Page) =>
  p.waitForFunction(
    () => {
      const bars = Array.from(document.querySelectorAll('[role="progressbar"][aria-label^="Stage "]'));
      return bars.length > 0 && bars.every((b) => b.getAttribute('aria-valuenow') === '100');
    },
    undefined,
    { timeout: LONG },
  );

/** The number a stat card of the overview shows. */
const statValue = async (p: Page, label: string) =>
  Number((await p.getByRole('group', { name: label }).locator('.stat-value').innerText()).replace(/\D/g, ''));

describeInBrowser('dashboard', () => {
  beforeAll(async () => {
    builtEntry('dist/dashboard/index.html', ['web/dashboard', 'client']);
    const db = await createTestDatabase('dashboard');
    disposables.defer(() => db.drop());
    app = await startTestApp({ databaseUrl: db.url, redisPrefix: uniqueRedisPrefix('dashboard') });
    disposables.defer(() => app.stop());
    api = `${app.url}/graphql`;
    browser = await launchBrowser();
    disposables.defer(() => browser.close());
  }, LONG);
  afterAll(() => disposables.disposeAll());

  beforeEach(async () => {
    ({ page, pageErrors } = await newPage(browser));
    disposables.defer(() => page.context().close());
  });
  afterEach(() => expect(pageErrors).toEqual([]));

  it(
    'creates a job after showing the error the API gives beside the field it names',
    async () => {
      await page.goto(`${app.url}/#/jobs`);
      await page.getByRole('link', { name: 'Create job' }).click();
      const name = `ui-${suffix()}`;
      await page.getByLabel('Name').fill(name);
      await page.getByLabel('Table').fill(`orders_${suffix()}`);
      await page.getByRole('button', { name: 'Create job' }).click();

      // No path: the API refuses input.source.params.path, and the message sits under Path.
      const pathField = page.locator('.field', { has: page.getByLabel('Path') });
      await pathField.getByRole('alert').waitFor();
      expect(await page.getByLabel('Path').getAttribute('aria-invalid')).toBe('true');
      expect(await page.locator('.field-error').count()).toBe(1);

      await page.getByLabel('Path').fill(ORDERS_CSV);
      await page.getByRole('button', { name: 'Test connection' }).click();
      await page.getByRole('status').filter({ hasText: '✓' }).waitFor();

      await page.getByRole('button', { name: 'Create job' }).click();
      await page.waitForURL(/#\/jobs\/[0-9a-f-]{36}$/);
      await page.getByRole('heading', { name }).waitFor();
      await page.getByLabel('Job status: CREATED').waitFor();
    },
    LONG,
  );

  it(
    'starts a run and follows its stage bars to 100 % and its log lines live',
    async () => {
      const { name } = await createJob();
      await page.goto(`${app.url}/#/jobs`);
      await page.getByRole('button', { name: `Start ${name}` }).click();
      await page.waitForURL(/#\/runs\//);

      await stagesComplete(page);
      await page.getByLabel('Run status: SUCCEEDED').waitFor({ timeout: LONG });
      expect(await page.getByRole('progressbar', { name: 'Run progress' }).getAttribute('aria-valuenow')).toBe('100');

      const logs = page.getByRole('log', { name: 'Run logs' });
      await logs
        .getByText(/loaded \d+ rows/)
        .first()
        .waitFor();
      // The search narrows the lines to those that match.
      const all = await logs.locator('.log-line').count();
      await page.getByLabel('Search logs').fill('no line says this');
      await logs.getByText('No line matches the search.').waitFor();
      await page.getByLabel('Search logs').fill('');
      expect(await logs.locator('.log-line').count()).toBe(all);
      // The record count reached the file's rows.
      await page.getByRole('group', { name: 'Records' }).getByText('5,000').waitFor();
    },
    LONG,
  );

  it(
    'stops a slow run from its page',
    async () => {
      const slow = await createJob({ processing: { maxRowsPerSecond: 20, batchSize: 100 } });
      await page.goto(`${app.url}/#/jobs/${slow.id}`);
      await page.getByRole('button', { name: 'Start', exact: true }).click();
      await page.waitForURL(/#\/runs\//);
      await page.getByLabel('Run status: RUNNING').waitFor({ timeout: LONG });

      await page.getByRole('button', { name: 'Stop run' }).click();
      await page.getByLabel('Run status: CANCELLED').waitFor({ timeout: LONG });
      expect(await page.getByRole('button', { name: 'Stop run' }).count()).toBe(0);
    },
    LONG,
  );

  it(
    'shows a run started through the API in the runs list, and the counts move, without a reload',
    async () => {
      const fast = await createJob();
      await page.goto(`${app.url}/#/`);
      await page.getByRole('table', { name: 'Runs' }).waitFor();
      const succeeded = await statValue(page, 'Succeeded');
      await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));

      const run = ok(await gql(api, StartJobDocument, { id: fast.id })).startJob;
      const row = page.getByRole('table', { name: 'Runs' }).locator(`tr[data-run-id="${run.id}"]`);
      await row.getByRole('link', { name: `Run 1 of ${fast.name}` }).waitFor();
      await row.getByText('SUCCEEDED').waitFor({ timeout: LONG });
      await page.waitForFunction((n) => {
        const card = document.querySelector('[role="group"][aria-label="Succeeded"] .stat-value');
        return Number(card?.textContent?.replace(/\D/g, '')) === n;
      }, succeeded + 1);
      expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    },
    LONG,
  );

  it(
    'filters the runs table by tag on the gateway, and a new run of a tagged job joins it live',
    async () => {
      const tag = `dash-${crypto.randomBytes(3).toString('hex')}`;
      const tagged = await createJob({ tags: [tag] });
      const other = await createJob({ tags: ['other-team'] });
      const otherRun = ok(await gql(api, StartJobDocument, { id: other.id })).startJob;
      const first = ok(await gql(api, StartJobDocument, { id: tagged.id })).startJob;
      await page.goto(`${app.url}/#/`);
      await page.getByLabel('Tag').selectOption(tag);
      const table = page.getByRole('table', { name: 'Runs' });
      await table.locator(`tr[data-run-id="${first.id}"]`).waitFor();
      // Counted by the gateway: only the tagged job's runs, not every run the page loaded.
      await page.getByText('1 in all').waitFor();
      expect(await table.locator(`tr[data-run-id="${otherRun.id}"]`).count()).toBe(0);

      await table.locator(`tr[data-run-id="${first.id}"]`).getByText('SUCCEEDED').waitFor({ timeout: LONG });
      const second = ok(await gql(api, StartJobDocument, { id: tagged.id })).startJob;
      await table.locator(`tr[data-run-id="${second.id}"]`).waitFor({ timeout: LONG });
      expect(await table.locator('tr[data-run-id]').count()).toBe(2);
    },
    LONG,
  );
});

describeInBrowser('dashboard with auth on', () => {
  const TOKEN = `dash-${crypto.randomBytes(16).toString('hex')}`;
  const authDisposables = new Disposables();
  let authApp: App;
  let authBrowser: Browser;

  beforeAll(async () => {
    builtEntry('dist/dashboard/index.html', ['web/dashboard', 'client']);
    const db = await createTestDatabase('dashboard-auth');
    authDisposables.defer(() => db.drop());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-dashboard-'));
    const tokensFile = path.join(dir, 'tokens');
    fs.writeFileSync(tokensFile, `operator:${hashToken(TOKEN).toString('hex')}:dashboard-test\n`);
    const { auth } = loadConfig({ API_TOKENS_FILE: tokensFile });
    authApp = await startTestApp({ databaseUrl: db.url, redisPrefix: uniqueRedisPrefix('dashboard-auth'), workers: false, auth });
    authDisposables.defer(() => authApp.stop());
    authBrowser = await launchBrowser();
    authDisposables.defer(() => authBrowser.close());
  }, LONG);
  afterAll(() => authDisposables.disposeAll());

  it(
    'asks for a token, refuses a wrong one, and keeps a good one for the tab',
    async () => {
      const { page: p, pageErrors: errors } = await newPage(authBrowser);
      authDisposables.defer(() => p.context().close());
      await p.goto(`${authApp.url}/`);
      await p.getByRole('heading', { name: 'Sign in to jobwire' }).waitFor();

      await p.getByLabel('Token').fill('not-a-token');
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.getByText(/That token was refused/).waitFor();

      await p.getByLabel('Token').fill(TOKEN);
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.getByRole('heading', { name: 'Overview' }).waitFor();
      await p.getByText('token:dashboard-test').waitFor();
      // Live counts came over the WebSocket, which needed the token too.
      await p.getByRole('group', { name: 'Running' }).waitFor();

      await p.reload();
      await p.getByRole('heading', { name: 'Overview' }).waitFor();
      await p.getByRole('button', { name: 'Sign out' }).click();
      await p.getByRole('heading', { name: 'Sign in to jobwire' }).waitFor();
      expect(errors).toEqual([]);
    },
    LONG,
  );
});
