/**
 * What the gateway process does at start about authentication (the built `dist/src/main.js`, as an
 * operator runs it): the zero-setup default binds loopback only and answers as admin; another
 * interface without credentials is refused with a message saying what to set; JOBWIRE_AUTH=off
 * allows it; with credentials configured callers must show them.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateJobDocument, JobAuditDocument, MeDocument } from '../../client/generated/graphql';
import { spawnGateway, type GatewayProcess } from '../helpers/app';
import { createTestDatabase } from '../helpers/db';
import { Disposables } from '../helpers/disposables';
import { gql, ok, onlyError } from '../helpers/http';

const disposables = new Disposables();
let dbUrl: string;
let dataDir: string;

/** An IPv4 address of this machine other than loopback, if it has one: where another machine would connect. */
const externalAddress = Object.values(os.networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

async function gateway(env: Record<string, string>): Promise<GatewayProcess> {
  const g = await spawnGateway({ DATABASE_URL: dbUrl, JOBWIRE_DATA_DIR: dataDir, ...env });
  disposables.defer(() => g.stop());
  return g;
}

/** The port a gateway listens on. */
const portOf = (g: GatewayProcess) => new URL(g.url).port;

beforeAll(async () => {
  const db = await createTestDatabase('authstart');
  disposables.defer(() => db.drop());
  dbUrl = db.url;
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-authstart-'));
});
afterAll(() => disposables.disposeAll());

describe('authentication at start', () => {
  it('with nothing configured binds 127.0.0.1 only, says so, and answers every caller as the admin "local"', async () => {
    const g = await gateway({ HOST: '' });
    expect(new URL(g.url).hostname).toBe('127.0.0.1');
    expect(g.output()).toMatch(/no credentials configured: listening on 127\.0\.0\.1 only, and every caller is the admin \\"local\\"/);
    expect(ok(await gql(`${g.url}/graphql`, MeDocument)).me).toEqual({ subject: 'local', role: 'ADMIN' });
    if (externalAddress) {
      await expect(fetch(`http://${externalAddress}:${portOf(g)}/healthz`)).rejects.toThrow();
    }
  });

  it('refuses to start on another interface without credentials, telling the operator what to set', async () => {
    await expect(gateway({ HOST: '0.0.0.0' })).rejects.toThrow(
      /exited with 2 before it was ready:\n.*HOST=0\.0\.0\.0 accepts calls from other machines, but no credentials are configured.*Set JWT_SECRET, JWT_JWKS_URL \(with JWT_ISSUER and JWT_AUDIENCE\) or API_TOKENS_FILE, or JOBWIRE_AUTH=off/,
    );
  });

  it('with JOBWIRE_AUTH=off listens everywhere, warns, and everybody is the admin "anonymous"', async () => {
    const g = await gateway({ HOST: '0.0.0.0', JOBWIRE_AUTH: 'off' });
    expect(g.output()).toMatch(/"level":40,.*JOBWIRE_AUTH=off: every caller, from anywhere it can reach 0\.0\.0\.0, is an admin/);
    const base = externalAddress ? `http://${externalAddress}:${portOf(g)}` : g.url;
    expect(ok(await gql(`${base}/graphql`, MeDocument)).me).toEqual({ subject: 'anonymous', role: 'ADMIN' });
    const input = {
      name: `off-${crypto.randomBytes(3).toString('hex')}`,
      source: { type: 'LOCAL' as const, params: { path: '/data/in/orders.csv' } },
      destination: { schema: 'public', table: 'orders' },
    };
    const job = ok(await gql(`${base}/graphql`, CreateJobDocument, { input })).createJob;
    expect(ok(await gql(`${base}/graphql`, JobAuditDocument, { id: job.id })).job!.createdBy).toBe('anonymous');
  });

  it('with credentials configured listens everywhere and requires them', async () => {
    const g = await gateway({ HOST: '0.0.0.0', JWT_SECRET: crypto.randomBytes(32).toString('hex') });
    expect(g.output()).toMatch(/credentials required: JWT \(HS256\)/);
    const res = await gql(`${g.url}/graphql`, MeDocument);
    expect([res.status, onlyError(res).extensions?.code]).toEqual([401, 'UNAUTHENTICATED']);
  });

  it('refuses to start with an API tokens file it cannot read', async () => {
    await expect(gateway({ API_TOKENS_FILE: path.join(dataDir, 'missing-tokens') })).rejects.toThrow(
      /exited with 2 before it was ready:\n.*API_TOKENS_FILE .*missing-tokens cannot be read/,
    );
  });
});
