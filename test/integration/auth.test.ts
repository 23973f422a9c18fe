/**
 * Authentication and roles on a whole gateway (real PostgreSQL and Redis, HTTP and WebSocket):
 * HS256 JWTs and API tokens, each role doing what it may and nothing more, refused operations
 * executing nothing, the audit fields, and a key set (JWKS) served by a local HTTP server.
 */
import 'reflect-metadata';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import WebSocket from 'ws';
import type { App } from '../../src/app';
import { hashToken } from '../../src/auth/api-tokens';
import { loadConfig } from '../../src/config';
import { ErrorKind, RunStatus } from '../../src/domain';
import {
  CreateJobDocument,
  DeleteJobDocument,
  JobAuditDocument,
  JobsDocument,
  MeDocument,
  RetryRunDocument,
  RunAuditDocument,
  RunUpdatedDocument,
  StartJobDocument,
  StopRunDocument,
  UpdateJobDocument,
  type CreateJobInput,
} from '../../client/generated/graphql';
import { startTestApp } from '../helpers/app';
import { createTestDatabase, uniqueRedisPrefix } from '../helpers/db';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';
import { gql, ok, onlyError } from '../helpers/http';
import { createWsClient } from '../helpers/ws-client';

const SECRET = crypto.randomBytes(32).toString('hex');
const AUDIENCE = 'jobwire-test';
const OPERATOR_TOKEN = crypto.randomBytes(24).toString('hex');
const VIEWER_TOKEN = crypto.randomBytes(24).toString('hex');

const disposables = new Disposables();
let app: App;
let url: string;
let wsUrl: string;
let dbUrl: string;

/** A JWT signed with the gateway's secret (or `secret`), for `sub` with `role`, valid for an hour unless told. */
function token(sub: string, role: string | undefined, opts: { exp?: number; aud?: string; secret?: string } = {}): Promise<string> {
  return new SignJWT(role === undefined ? {} : { role })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setAudience(opts.aud ?? AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? Math.floor(Date.now() / 1000) + 3600)
    .sign(new TextEncoder().encode(opts.secret ?? SECRET));
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
let viewer: Record<string, string>;
let operator: Record<string, string>;
let admin: Record<string, string>;

const localJob = (over: Partial<CreateJobInput> = {}): CreateJobInput => ({
  name: `auth-${crypto.randomBytes(4).toString('hex')}`,
  source: { type: 'LOCAL', params: { path: '/data/in/orders.csv' } },
  destination: { schema: 'public', table: 'orders' },
  ...over,
});
const createJob = async (over: Partial<CreateJobInput> = {}) =>
  ok(await gql(url, CreateJobDocument, { input: localJob(over) }, admin)).createJob;
const jobsNamed = async (name: string) => ok(await gql(url, JobsDocument, { filter: { search: name } }, admin)).jobs.totalCount;
const audit = async (jobId: string) => ok(await gql(url, JobAuditDocument, { id: jobId }, admin)).job!;

/** A raw graphql-transport-ws socket that sends `connection_init` with `payload` and reports how it ended. */
async function initSocket(payload?: Record<string, unknown>) {
  const ws = new WebSocket(wsUrl, 'graphql-transport-ws');
  const messages: { type: string }[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data))));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  ws.send(JSON.stringify(payload === undefined ? { type: 'connection_init' } : { type: 'connection_init', payload }));
  disposables.defer(() => ws.close());
  return { ws, messages, closed };
}

beforeAll(async () => {
  const db = await createTestDatabase('auth');
  disposables.defer(() => db.drop());
  dbUrl = db.url;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-auth-'));
  const tokensFile = path.join(dir, 'tokens');
  fs.writeFileSync(
    tokensFile,
    `# machines\noperator:${hashToken(OPERATOR_TOKEN).toString('hex')}:ci-deployer\nviewer:${hashToken(VIEWER_TOKEN).toString('hex')}\n`,
  );
  const { auth } = loadConfig({ JWT_SECRET: SECRET, JWT_AUDIENCE: AUDIENCE, API_TOKENS_FILE: tokensFile });
  app = await startTestApp({ databaseUrl: db.url, redisPrefix: uniqueRedisPrefix('auth'), workers: false, auth });
  disposables.defer(() => app.stop());
  url = `${app.url}/graphql`;
  wsUrl = `${app.url.replace(/^http/, 'ws')}/graphql`;
  [viewer, operator, admin] = await Promise.all([token('vera', 'viewer'), token('otto', 'OPERATOR'), token('ada', 'admin')]).then((ts) =>
    ts.map(bearer),
  );
});
afterAll(() => disposables.disposeAll());

describe('HTTP credentials', () => {
  it('refuses a request without credentials with 401 UNAUTHENTICATED, before reading it', async () => {
    const res = await gql(url, MeDocument);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="jobwire"');
    expect(onlyError(res).extensions?.code).toBe('UNAUTHENTICATED');
    const garbage = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    expect(garbage.status).toBe(401);
  });

  it('answers me with the subject and role of a JWT or an API token', async () => {
    expect(ok(await gql(url, MeDocument, {}, operator)).me).toEqual({ subject: 'otto', role: 'OPERATOR' });
    expect(ok(await gql(url, MeDocument, {}, bearer(OPERATOR_TOKEN))).me).toEqual({ subject: 'token:ci-deployer', role: 'OPERATOR' });
    const short = hashToken(VIEWER_TOKEN).toString('hex').slice(0, 8);
    expect(ok(await gql(url, MeDocument, {}, bearer(VIEWER_TOKEN))).me).toEqual({ subject: `token:${short}`, role: 'VIEWER' });
  });

  it.each([
    ['an expired token', () => token('ada', 'admin', { exp: Math.floor(Date.now() / 1000) - 600 }), /expired/],
    ['a token with another signature', () => token('ada', 'admin', { secret: crypto.randomBytes(32).toString('hex') }), /not valid/],
    ['a token for another audience', () => token('ada', 'admin', { aud: 'billing' }), /"aud" claim/],
    ['an unknown API token', async () => crypto.randomBytes(24).toString('hex'), /not valid/],
  ])('refuses %s with 401 UNAUTHENTICATED', async (_what, make, message) => {
    const res = await gql(url, MeDocument, {}, bearer(await make()));
    expect([res.status, onlyError(res).extensions?.code]).toEqual([401, 'UNAUTHENTICATED']);
    expect(onlyError(res).message).toMatch(message);
  });

  it('refuses a valid token that grants no role with 403 FORBIDDEN', async () => {
    const res = await gql(url, MeDocument, {}, bearer(await token('nobody', 'superuser')));
    expect([res.status, onlyError(res).extensions?.code]).toEqual([403, 'FORBIDDEN']);
  });
});

describe('roles', () => {
  it('a viewer queries and subscribes, but cannot start a run (and none is started)', async () => {
    const job = await createJob();
    expect(ok(await gql(url, JobsDocument, { filter: { search: job.name } }, viewer)).jobs.totalCount).toBe(1);
    const refused = await gql(url, StartJobDocument, { id: job.id }, viewer);
    expect(refused.status).toBe(403);
    expect(onlyError(refused)).toMatchObject({
      message: 'Mutation.startJob needs the OPERATOR role; vera is VIEWER',
      extensions: { code: 'FORBIDDEN' },
    });
    expect((await audit(job.id)).runs.totalCount).toBe(0);

    const run = ok(await gql(url, StartJobDocument, { id: job.id }, operator)).startJob;
    const client = await createWsClient(wsUrl, { connectionParams: { authorization: viewer.authorization } });
    disposables.defer(() => client.dispose());
    const sub = client.subscribe(RunUpdatedDocument, { runId: run.id });
    expect((await sub.next()).data?.runUpdated).toMatchObject({ id: run.id, status: 'QUEUED' });
    await app.runEvents.apply({ type: 'run.status', runId: run.id, payload: { status: RunStatus.RUNNING } });
    expect((await sub.waitFor((m) => m.data?.runUpdated.status === 'RUNNING')).errors).toBeUndefined();
  });

  it('an operator starts and stops runs, but cannot create or delete jobs (and nothing changes)', async () => {
    const job = await createJob();
    const run = ok(await gql(url, StartJobDocument, { id: job.id }, operator)).startJob;
    expect(ok(await gql(url, StopRunDocument, { id: run.id }, operator)).stopRun.status).toBe('CANCELLED');

    const input = localJob();
    const created = await gql(url, CreateJobDocument, { input }, operator);
    expect([created.status, onlyError(created).extensions?.code]).toEqual([403, 'FORBIDDEN']);
    expect(created.data ?? null).toBeNull();
    expect(await jobsNamed(input.name)).toBe(0);

    const deleted = await gql(url, DeleteJobDocument, { id: job.id }, bearer(OPERATOR_TOKEN));
    expect(onlyError(deleted).extensions?.code).toBe('FORBIDDEN');
    expect(await jobsNamed(job.name)).toBe(1);
  });

  it('refuses a request of several mutations as a whole when one is above the role: none of them runs', async () => {
    const job = await createJob();
    const res = await gql(url, `mutation ($id: ID!) { startJob(id: $id) { id } deleteJob(id: $id) }`, { id: job.id }, operator);
    expect(onlyError(res).message).toBe('Mutation.deleteJob needs the ADMIN role; otto is OPERATOR');
    expect((await audit(job.id)).runs.totalCount).toBe(0);
  });

  it('an admin creates, updates and deletes jobs', async () => {
    const job = await createJob();
    expect(ok(await gql(url, UpdateJobDocument, { id: job.id, input: { description: 'by ada' } }, admin)).updateJob.description).toBe(
      'by ada',
    );
    expect(ok(await gql(url, DeleteJobDocument, { id: job.id }, admin)).deleteJob).toBe(true);
    expect(await jobsNamed(job.name)).toBe(0);
  });
});

describe('WebSocket credentials', () => {
  it.each([
    ['no connectionParams', undefined, /Credentials required/],
    ['an unknown token', { token: 'nope' }, /not valid/],
    ['a malformed authorization', { authorization: 'Token abc' }, /Bearer/],
  ])('closes a socket with %s with 4403 Forbidden at connection_init', async (_what, params, reason) => {
    const s = await initSocket(params);
    const { code, reason: text } = await s.closed;
    expect(code).toBe(4403);
    expect(text).toMatch(reason);
    expect(s.messages).toEqual([]); // never acknowledged
  });

  it('serves a subscribe sent before the ack once the JWT is checked, and not before', async () => {
    const s = await initSocket({ authorization: viewer.authorization });
    s.ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ me { subject } }' } }));
    await waitFor(() => s.messages.length === 3, 'the ack, the next and the complete');
    expect(s.messages).toEqual([
      { type: 'connection_ack' },
      { id: '1', type: 'next', payload: { data: { me: { subject: 'vera' } } } },
      { id: '1', type: 'complete' },
    ]);
  });

  it('closes a socket with an expired JWT with 4403', async () => {
    const s = await initSocket({ authorization: `Bearer ${await token('ada', 'admin', { exp: Math.floor(Date.now() / 1000) - 60 })}` });
    expect(await s.closed).toEqual({ code: 4403, reason: 'Forbidden: The token has expired' });
  });

  it('takes a token in connectionParams, and refuses an operation above its role without closing the socket', async () => {
    const job = await createJob();
    const client = await createWsClient(wsUrl, { connectionParams: { token: VIEWER_TOKEN } });
    disposables.defer(() => client.dispose());
    const refused = await client.subscribe(StartJobDocument, { id: job.id }).next();
    expect(refused.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    expect(refused.errors?.[0].message).toMatch(/^Mutation\.startJob needs the OPERATOR role; token:/);
    expect((await client.subscribe(MeDocument).next()).data?.me.role).toBe('VIEWER');
    expect((await audit(job.id)).runs.totalCount).toBe(0);

    const operatorClient = await createWsClient(wsUrl, { connectionParams: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    disposables.defer(() => operatorClient.dispose());
    expect((await operatorClient.subscribe(StartJobDocument, { id: job.id }).next()).data?.startJob.status).toBe('QUEUED');
  });

  it('closes a socket whose token has expired when it next subscribes', async () => {
    const exp = Math.floor(Date.now() / 1000) + 2;
    const client = await createWsClient(wsUrl, { connectionParams: { authorization: `Bearer ${await token('vera', 'viewer', { exp })}` } });
    disposables.defer(() => client.dispose());
    expect((await client.subscribe(MeDocument).next()).data?.me.subject).toBe('vera');
    await waitFor(() => Date.now() > exp * 1000, 'the token to expire', 5000);
    client.subscribe(MeDocument);
    expect(await client.closed()).toBe(4403);
  });
});

describe('audit', () => {
  it('records who created a job, who started, stopped and retried each attempt', async () => {
    const job = await createJob();
    expect((await audit(job.id)).createdBy).toBe('ada');

    const run = ok(await gql(url, StartJobDocument, { id: job.id }, operator)).startJob;
    await app.runEvents.apply({
      type: 'run.status',
      runId: run.id,
      payload: { status: RunStatus.FAILED, error: { message: 'boom', kind: ErrorKind.PERMANENT, details: null } },
    });
    ok(await gql(url, RetryRunDocument, { id: run.id }, bearer(OPERATOR_TOKEN)));
    ok(await gql(url, StopRunDocument, { id: run.id }, operator));
    const byHand = ok(await gql(url, RunAuditDocument, { id: run.id }, viewer)).run!;
    expect(byHand).toMatchObject({
      status: 'CANCELLED',
      stoppedBy: 'otto',
      attempts: [
        { attempt: 1, status: 'FAILED', triggeredBy: 'otto' },
        { attempt: 2, status: 'CANCELLED', triggeredBy: 'token:ci-deployer' },
      ],
    });
  });

  it('names the retry policy for an automatic retry and the scheduler for a cron run', async () => {
    const job = await createJob();
    const run = ok(await gql(url, StartJobDocument, { id: job.id }, operator)).startJob;
    await app.runEvents.apply({
      type: 'run.status',
      runId: run.id,
      payload: { status: RunStatus.FAILED, error: { message: 'flaky', kind: ErrorKind.TRANSIENT, details: null } },
    });
    await waitFor(async () => (await app.core.retries.startDue(10)).some((r) => r.id === run.id), 'the retry to be due and started');
    const retried = ok(await gql(url, RunAuditDocument, { id: run.id }, viewer)).run!;
    expect(retried.attempts.map((a) => a.triggeredBy)).toEqual(['otto', 'retry-policy']);
    expect(retried.stoppedBy).toBeNull();

    const cron = await createJob({ schedule: { cron: '0 3 * * *' } });
    await app.db.sql.query("update jobs set next_run_at = now() - interval '1 second' where id = $1", [cron.id]);
    const scheduled = (await app.core.schedules.fireDue(10)).find((r) => r.jobId === cron.id)!;
    expect(scheduled.trigger).toBe('SCHEDULE');
    expect(ok(await gql(url, RunAuditDocument, { id: scheduled.id }, viewer)).run!.attempts[0].triggeredBy).toBe('scheduler');
  });
});

describe('JWTs from a key set (JWKS)', () => {
  const ISSUER = 'https://login.example.test/';
  let privateKey: KeyLike;
  let jwksApp: App;
  let jwksUrl: string;
  let served = 0;

  const rsToken = (claims: Record<string, unknown>, opts: { iss?: string; aud?: string; key?: KeyLike; kid?: string } = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: opts.kid ?? 'k1' })
      .setSubject('sam')
      .setIssuer(opts.iss ?? ISSUER)
      .setAudience(opts.aud ?? 'jobwire')
      .setExpirationTime('10m')
      .sign(opts.key ?? privateKey);

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    const server = http.createServer((_req, res) => {
      served++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    disposables.defer(() => new Promise((resolve) => server.close(resolve)));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
    const { auth } = loadConfig({ JWT_JWKS_URL: jwksUrl, JWT_ISSUER: ISSUER, JWT_AUDIENCE: 'jobwire' });
    jwksApp = await startTestApp({ databaseUrl: dbUrl, redisPrefix: uniqueRedisPrefix('auth-jwks'), workers: false, migrate: false, auth });
    disposables.defer(() => jwksApp.stop());
  });

  it('accepts an RS256 token whose key the set holds, from the configured issuer for the configured audience', async () => {
    const res = await gql(`${jwksApp.url}/graphql`, MeDocument, {}, bearer(await rsToken({ role: 'operator' })));
    expect(ok(res).me).toEqual({ subject: 'sam', role: 'OPERATOR' });
    expect(served).toBeGreaterThanOrEqual(1);
  });

  it.each([
    ['a token from another issuer', () => rsToken({ role: 'admin' }, { iss: 'https://evil.example.test/' }), /"iss" claim/],
    ['a token for another audience', () => rsToken({ role: 'admin' }, { aud: 'billing' }), /"aud" claim/],
    [
      'a token signed with a key the set does not hold',
      async () => rsToken({ role: 'admin' }, { key: (await generateKeyPair('RS256')).privateKey, kid: 'k2' }),
      /unknown key/,
    ],
    [
      'an HS256 token (a public key is no secret)',
      () =>
        new SignJWT({ role: 'admin' })
          .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
          .setSubject('mallory')
          .setIssuer(ISSUER)
          .setAudience('jobwire')
          .sign(new TextEncoder().encode(SECRET)),
      /algorithm|not valid/,
    ],
  ])('refuses %s with UNAUTHENTICATED', async (_what, make, message) => {
    const res = await gql(`${jwksApp.url}/graphql`, MeDocument, {}, bearer(await make()));
    expect([res.status, onlyError(res).extensions?.code]).toEqual([401, 'UNAUTHENTICATED']);
    expect(onlyError(res).message).toMatch(message);
  });

  it('authenticates a WebSocket with a key-set token', async () => {
    const client = await createWsClient(`${jwksApp.url.replace(/^http/, 'ws')}/graphql`, {
      connectionParams: { authorization: `Bearer ${await rsToken({ role: 'viewer' })}` },
    });
    disposables.defer(() => client.dispose());
    expect((await client.subscribe(MeDocument).next()).data?.me).toEqual({ subject: 'sam', role: 'VIEWER' });
  });

  it('answers 503 UNAVAILABLE (not a refusal of the caller) when the key set cannot be fetched', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/jwks`;
    await new Promise((resolve) => closed.close(resolve));
    const { auth } = loadConfig({ JWT_JWKS_URL: deadUrl, JWT_ISSUER: ISSUER, JWT_AUDIENCE: 'jobwire' });
    const down = await startTestApp({
      databaseUrl: dbUrl,
      redisPrefix: uniqueRedisPrefix('auth-down'),
      workers: false,
      migrate: false,
      auth,
    });
    disposables.defer(() => down.stop());
    const res = await gql(`${down.url}/graphql`, MeDocument, {}, bearer(await rsToken({ role: 'admin' })));
    expect([res.status, onlyError(res).extensions?.code]).toEqual([503, 'UNAVAILABLE']);
  });
});
