/**
 * The typed client that `jobwire/client` exports, as another TypeScript program would use it: create
 * a job, start it, follow it over a subscription until it ends, read errors by code and field, and
 * authenticate with a token on HTTP and on the WebSocket. On real PostgreSQL and Redis, LOCAL
 * executor on. Also checks the built package resolves by its name.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import {
  CreateJobDocument,
  JobDocument,
  RunUpdatedDocument,
  StartJobDocument,
  createJobwireClient,
  JobwireError,
  type CreateJobInput,
  type JobwireClient,
} from '../../client';
import type { App } from '../../src/app';
import { hashToken } from '../../src/auth/api-tokens';
import { loadConfig } from '../../src/config';
import { startTestApp } from '../helpers/app';
import { builtEntry } from '../helpers/build';
import { createTestDatabase, uniqueRedisPrefix } from '../helpers/db';
import { Disposables } from '../helpers/disposables';
import fs from 'node:fs';
import os from 'node:os';

const ROOT = path.resolve(__dirname, '../..');
const disposables = new Disposables();
let app: App;
let client: JobwireClient;

const jobInput = (over: Partial<CreateJobInput> = {}): CreateJobInput => ({
  name: `client-${crypto.randomBytes(3).toString('hex')}`,
  source: { type: 'LOCAL', params: { path: path.join(ROOT, 'samples/orders.csv') } },
  destination: { schema: 'public', table: `client_${crypto.randomBytes(3).toString('hex')}` },
  ...over,
});

beforeAll(async () => {
  const db = await createTestDatabase('client');
  disposables.defer(() => db.drop());
  app = await startTestApp({ databaseUrl: db.url, redisPrefix: uniqueRedisPrefix('client') });
  disposables.defer(() => app.stop());
  client = createJobwireClient({ url: app.url, webSocketImpl: WebSocket });
  disposables.defer(() => client.close());
});
afterAll(() => disposables.disposeAll());

it('creates and starts a job with typed documents and follows its run to SUCCEEDED over a subscription', async () => {
  const { createJob } = await client.request(CreateJobDocument, { input: jobInput() });
  const { startJob } = await client.request(StartJobDocument, { id: createJob.id });
  const seen: string[] = [];
  for await (const { runUpdated } of client.subscribe(RunUpdatedDocument, { runId: startJob.id })) {
    seen.push(runUpdated.status);
    if (runUpdated.status === 'SUCCEEDED' || runUpdated.status === 'FAILED') {
      expect(runUpdated.stages.every((s) => s.progress === 1)).toBe(true);
      break;
    }
  }
  expect(seen.at(-1)).toBe('SUCCEEDED');
  const { job } = await client.request(JobDocument, { id: createJob.id });
  expect(job?.latestRun?.status).toBe('SUCCEEDED');
});

it('rejects bad input with a JobwireError that names the code and the field', async () => {
  const err = await client.request(CreateJobDocument, { input: jobInput({ name: '' }) }).catch((e) => e);
  expect(err).toBeInstanceOf(JobwireError);
  expect(err.code).toBe('BAD_USER_INPUT');
  expect(err.field).toBe('input.name');
});

it('rejects a subscription to an unknown run with NOT_FOUND', async () => {
  const it = client.subscribe(RunUpdatedDocument, { runId: '00000000-0000-7000-8000-000000000000' });
  const err = await it.next().catch((e) => e);
  expect(err).toBeInstanceOf(JobwireError);
  expect(err.code).toBe('NOT_FOUND');
});

describe('with credentials required', () => {
  const TOKEN = 'client-test-viewer-token-0123456789';
  let secured: App;
  beforeAll(async () => {
    const db = await createTestDatabase('client_auth');
    disposables.defer(() => db.drop());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-client-'));
    const tokensFile = path.join(dir, 'tokens');
    fs.writeFileSync(tokensFile, `viewer:${hashToken(TOKEN).toString('hex')}:dashboard\n`);
    const { auth } = loadConfig({ API_TOKENS_FILE: tokensFile });
    secured = await startTestApp({ databaseUrl: db.url, redisPrefix: uniqueRedisPrefix('client_auth'), workers: false, auth });
    disposables.defer(() => secured.stop());
  });

  it('sends its token on HTTP and on the WebSocket; without one both are refused as UNAUTHENTICATED', async () => {
    const anonymous = createJobwireClient({ url: secured.url, webSocketImpl: WebSocket });
    disposables.defer(() => anonymous.close());
    const denied = await anonymous.request(JobDocument, { id: crypto.randomUUID() }).catch((e) => e);
    expect(denied).toBeInstanceOf(JobwireError);
    expect(denied.code).toBe('UNAUTHENTICATED');
    const deniedWs = await anonymous
      .subscribe(RunUpdatedDocument, { runId: crypto.randomUUID() })
      .next()
      .catch((e) => e);
    expect(deniedWs).toBeInstanceOf(JobwireError);
    expect(deniedWs.code).toBe('UNAUTHENTICATED');

    const viewer = createJobwireClient({ url: secured.url, token: TOKEN, webSocketImpl: WebSocket });
    disposables.defer(() => viewer.close());
    expect((await viewer.request(JobDocument, { id: crypto.randomUUID() })).job).toBeNull();
    // Authenticated on the socket: the operation itself runs (and finds no such run).
    const notFound = await viewer
      .subscribe(RunUpdatedDocument, { runId: crypto.randomUUID() })
      .next()
      .catch((e) => e);
    expect(notFound.code).toBe('NOT_FOUND');
    // A viewer may not create jobs: FORBIDDEN, nothing created.
    const forbidden = await viewer.request(CreateJobDocument, { input: jobInput() }).catch((e) => e);
    expect(forbidden.code).toBe('FORBIDDEN');
  });
});

it('is importable by its package name, jobwire/client, from the build', async () => {
  builtEntry('dist/client/index.js');
  const script = `const c = require('jobwire/client');
    console.log(typeof c.createJobwireClient, c.StartJobDocument.kind, require.resolve('jobwire/client'));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { cwd: ROOT });
  const [fn, kind, resolved] = stdout.trim().split(' ');
  expect(fn).toBe('function');
  expect(kind).toBe('Document');
  expect(resolved).toBe(path.join(ROOT, 'dist/client/index.js'));
  expect(fs.existsSync(path.join(ROOT, 'dist/client/index.d.ts'))).toBe(true);
});
