/**
 * What sources may reach with the gateway's defaults: files only under LOCAL_SOURCE_ROOTS (the
 * shipped samples and the data folder), and no loopback, link-local or private address unless
 * SOURCE_ALLOWED_NETWORKS allows it — in connection tests and when the LOCAL engine reads, for
 * names and literals, on every redirect, with one answer whether a port is open or closed.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';
import { IngestError, ingest, makePgSink, type IngestSpec } from '../../src/backends/local/ingest';
import { openWithinRoots } from '../../src/backends/local/ingest/roots';
import { ConfigError, loadConfig } from '../../src/config';
import { SourceType } from '../../src/domain';
import { ErrorCode } from '../../src/errors';
import { testSourceConnection } from '../../src/jobs/connection-test';
import type { SourceConfigInput } from '../../src/jobs/job-input';
import { sourceAccessFrom } from '../../src/jobs/source-access';
import { makeLogger } from '../../src/logger';
import { packageRoot } from '../../src/paths';
import { ADMIN_URL, createTestDatabase } from '../helpers/db';
import { Disposables } from '../helpers/disposables';

const disposables = new Disposables();
const logger = makeLogger('silent');
let dataDir: string;
let outside: string;
/** The defaults, with the data folder in a temporary directory. */
let defaults: ReturnType<typeof sourceAccessFrom>;
let openPort: number;
let openServer: http.Server;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-access-'));
  outside = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-outside-'));
  disposables.defer(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  disposables.defer(() => fs.rmSync(outside, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dataDir, 'data'));
  fs.writeFileSync(path.join(dataDir, 'data', 'in.csv'), 'id,name\n1,a\n');
  fs.writeFileSync(path.join(outside, 'secret.csv'), 'password,token\nx,y\n');
  fs.symlinkSync('/etc/passwd', path.join(dataDir, 'data', 'passwd.csv'));
  fs.symlinkSync('/etc/no-such-file-here', path.join(dataDir, 'data', 'dangling.csv'));
  fs.symlinkSync('/etc', path.join(dataDir, 'data', 'etc'));
  defaults = sourceAccessFrom(loadConfig({}, { dataDir }));
  openServer = http.createServer((_req, res) => res.end('id\n1\n'));
  await new Promise<void>((r) => openServer.listen(0, '127.0.0.1', r));
  disposables.defer(() => new Promise((r) => openServer.close(r)));
  openPort = (openServer.address() as AddressInfo).port;
});
afterAll(() => disposables.disposeAll());

const probe = (input: SourceConfigInput, access = defaults) => testSourceConnection(input, { logger, access, timeoutMs: 3000 });
const local = (p: string) => probe({ type: SourceType.LOCAL, params: { path: p } });

describe('LOCAL_SOURCE_ROOTS', () => {
  it('defaults to the shipped samples and the data folder; * allows every path; relative roots are refused', () => {
    expect(loadConfig({}, { dataDir }).localSourceRoots).toEqual([path.join(packageRoot(), 'samples'), path.join(dataDir, 'data')]);
    expect(loadConfig({ JOBWIRE_DATA_DIR: '/srv/jobwire' }).localSourceRoots).toEqual([
      path.join(packageRoot(), 'samples'),
      '/srv/jobwire/data',
    ]);
    expect(loadConfig({ LOCAL_SOURCE_ROOTS: '*' }).localSourceRoots).toBeNull();
    expect(() => loadConfig({ LOCAL_SOURCE_ROOTS: 'data' })).toThrow(ConfigError);
  });

  it('reads the shipped samples and the data folder by default', async () => {
    expect(await local(path.join(packageRoot(), 'samples', 'orders.csv'))).toMatchObject({ ok: true });
    expect(await local(path.join(dataDir, 'data', 'in.csv'))).toMatchObject({ ok: true });
  });

  it('refuses paths outside the roots with one message whether the file exists or not', async () => {
    const cwdRelative = path.relative(process.cwd(), '/etc/passwd');
    const paths = [
      '/etc/passwd',
      '/etc/shadow',
      '/etc/no-such-file-here',
      cwdRelative,
      `${path.join(packageRoot(), 'samples')}/../../../../../../etc/passwd`,
      path.join(outside, 'secret.csv'),
      path.join(outside, '*.csv'),
      // Links inside a root that point out of it, to files that exist and to ones that do not.
      path.join(dataDir, 'data', 'passwd.csv'),
      path.join(dataDir, 'data', 'dangling.csv'),
      path.join(dataDir, 'data', 'etc', 'passwd'),
      path.join(dataDir, 'data', 'etc', 'no-such-file-here'),
      path.join(dataDir, 'data', 'etc', '*'),
    ];
    const messages = new Set<string>();
    for (const p of paths) {
      const err = await local(p).then(
        (r) => r,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: ErrorCode.BAD_USER_INPUT, field: 'input.params.path' });
      messages.add((err as Error).message);
    }
    expect(messages.size).toBe(1);
    expect([...messages][0]).toMatch(/must lie inside the directories LOCAL sources may read \(LOCAL_SOURCE_ROOTS: /);
  });

  it('lets * read anywhere the process can', async () => {
    const anywhere = sourceAccessFrom(loadConfig({ LOCAL_SOURCE_ROOTS: '*' }));
    expect(await probe({ type: SourceType.LOCAL, params: { path: path.join(outside, 'secret.csv') } }, anywhere)).toMatchObject({
      ok: true,
    });
  });

  it('refuses, when a file is opened, a link inside a root that points outside it', async () => {
    const roots = [path.join(dataDir, 'data')];
    await expect(openWithinRoots(path.join(dataDir, 'data', 'passwd.csv'), roots)).rejects.toMatchObject({
      kind: 'PERMANENT',
      message: expect.stringContaining('outside the directories LOCAL sources may read'),
    });
    const fh = await openWithinRoots(path.join(dataDir, 'data', 'in.csv'), roots);
    await fh.close();
  });

  it('confines a glob inside a root: a matched link to a file outside fails the connection test, showing nothing of it', async () => {
    const dir = fs.mkdtempSync(path.join(dataDir, 'data', 'glob-'));
    fs.writeFileSync(path.join(dir, 'a.csv'), 'id\n1\n');
    fs.symlinkSync(path.join(outside, 'secret.csv'), path.join(dir, 'b.csv'));
    const r = await local(path.join(dir, '*.csv'));
    expect(r).toMatchObject({ ok: false, message: expect.stringContaining('outside the directories LOCAL sources may read') });
    expect(JSON.stringify(r)).not.toContain('password');
  });
});

describe('SOURCE_ALLOWED_NETWORKS', () => {
  it('validates CIDRs and accepts *', () => {
    expect(loadConfig({}).sourceAllowedNetworks).toEqual([]);
    expect(loadConfig({ SOURCE_ALLOWED_NETWORKS: '10.1.0.0/16, fd00::/8, 192.168.1.20' }).sourceAllowedNetworks).toEqual([
      '10.1.0.0/16',
      'fd00::/8',
      '192.168.1.20',
    ]);
    expect(loadConfig({ SOURCE_ALLOWED_NETWORKS: '*' }).sourceAllowedNetworks).toEqual(['*']);
    expect(() => loadConfig({ SOURCE_ALLOWED_NETWORKS: '10.0.0.0/33' })).toThrow(/SOURCE_ALLOWED_NETWORKS/);
    expect(() => loadConfig({ SOURCE_ALLOWED_NETWORKS: 'intranet' })).toThrow(/SOURCE_ALLOWED_NETWORKS/);
  });

  /** A refused HTTP probe's message without the URL it names: what must not differ between an open port and a closed one. */
  const refusal = (message: string) => message.slice(message.indexOf(': ') + 2);

  it('refuses loopback, link-local, private and unspecified HTTP targets, names included, with one message for open and closed ports', async () => {
    const urls = [
      `http://127.0.0.1:${openPort}/x.csv`,
      'http://127.0.0.1:1/x.csv',
      `http://localhost:${openPort}/x.csv`,
      `http://[::ffff:127.0.0.1]:${openPort}/x.csv`,
      `http://0.0.0.0:${openPort}/x.csv`,
      `http://2130706433:${openPort}/x.csv`,
      'http://[::1]:1/x.csv',
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.1/x.csv',
      'http://192.168.0.1/x.csv',
      'http://[fd00::1]/x.csv',
    ];
    const messages = new Set<string>();
    for (const url of urls) {
      const r = await probe({ type: SourceType.HTTP, params: { url } });
      expect(r).toMatchObject({ ok: false, message: expect.stringContaining('address not allowed') });
      // Refused before connecting: no waiting for a timeout on addresses nobody answers.
      expect(r.latencyMs).toBeLessThan(1000);
      expect(r.message).toMatch(/^cannot reach http:\/\/\S+: address not allowed/);
      messages.add(refusal(r.message));
    }
    expect(messages.size).toBe(1);
    // The same server, allowed: reachable.
    const allowed = sourceAccessFrom(loadConfig({ SOURCE_ALLOWED_NETWORKS: '127.0.0.0/8' }));
    expect(await probe({ type: SourceType.HTTP, params: { url: `http://127.0.0.1:${openPort}/x.csv` } }, allowed)).toMatchObject({
      ok: true,
    });
  });

  it('checks every redirect: an allowed host redirecting to a refused one is refused, open port or not', async () => {
    // Only 127.0.0.2 is allowed; Linux routes all of 127/8 to the loopback interface.
    const access = sourceAccessFrom(loadConfig({ SOURCE_ALLOWED_NETWORKS: '127.0.0.2/32' }));
    const redirector = http.createServer((req, res) => {
      const to =
        req.url === '/to-open'
          ? `http://127.0.0.1:${openPort}/x.csv`
          : req.url === '/to-closed'
            ? 'http://127.0.0.1:1/x.csv'
            : req.url === '/to-name'
              ? `http://localhost:${openPort}/x.csv`
              : '/ok';
      if (req.url === '/ok') return void res.end('id\n1\n');
      res.writeHead(302, { location: to }).end();
    });
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.2', r));
    disposables.defer(() => new Promise((r) => redirector.close(r)));
    const base = `http://127.0.0.2:${(redirector.address() as AddressInfo).port}`;
    expect(await probe({ type: SourceType.HTTP, params: { url: `${base}/to-self` } }, access)).toMatchObject({ ok: true });
    const messages = new Set<string>();
    for (const p of ['/to-open', '/to-closed', '/to-name']) {
      const r = await probe({ type: SourceType.HTTP, params: { url: `${base}${p}` } }, access);
      expect(r).toMatchObject({ ok: false, message: expect.stringContaining('address not allowed') });
      messages.add(refusal(r.message));
    }
    expect(messages.size).toBe(1);
  });

  it('refuses PostgreSQL on this host (the gateway’s own database), by address, name or unix socket', async () => {
    const own = new URL(ADMIN_URL);
    const targets: SourceConfigInput['params'][] = [
      { connectionString: own.toString(), query: 'select rolname, rolpassword from pg_authid' },
      { connectionString: own.toString().replace('127.0.0.1', 'localhost'), table: 'pg_authid' },
      { host: '127.0.0.1', port: 1, database: 'postgres', user: 'postgres', table: 'x' },
      { host: '/var/run/postgresql', database: 'postgres', user: 'postgres', table: 'x' },
    ];
    for (const params of targets) {
      const r = await probe({ type: SourceType.POSTGRES, params });
      expect(r).toMatchObject({ ok: false, message: expect.stringContaining('address not allowed'), sampleSchema: null });
    }
  });

  it('refuses Kafka brokers on this host, open port or not', async () => {
    const open = await probe({ type: SourceType.KAFKA, params: { brokers: ['127.0.0.1:9092'], topic: 'orders' } });
    const closed = await probe({ type: SourceType.KAFKA, params: { brokers: ['127.0.0.1:1'], topic: 'orders' } });
    expect(open).toMatchObject({ ok: false, message: expect.stringContaining('address not allowed') });
    expect(closed.message).toBe(open.message);
  });

  describe('when the LOCAL engine reads an HTTP source', () => {
    let pool: Pool;
    beforeAll(async () => {
      const db = await createTestDatabase('source_access');
      disposables.defer(() => db.drop());
      pool = new Pool({ connectionString: db.url, max: 2 });
      disposables.defer(() => pool.end());
    });

    async function read(url: string, spec: Partial<IngestSpec>): Promise<IngestError> {
      const { done } = ingest(
        {
          source: { type: 'HTTP', params: { url } },
          format: 'AUTO',
          destination: { schema: 'public', table: 'fetched' },
          batchSize: 100,
          maxFailedRowRatio: 0,
          ...spec,
        },
        makePgSink(pool),
        { signal: new AbortController().signal, onStage: () => undefined, onLog: () => undefined },
      );
      return done.then(
        () => {
          throw new Error(`${url} was read`);
        },
        (e: IngestError) => e,
      );
    }

    it('fails PERMANENT for a refused address, on the first hop or after a redirect, and loads nothing', async () => {
      const strict = sourceAccessFrom(loadConfig({ SOURCE_ALLOWED_NETWORKS: '127.0.0.3/32' }));
      const hop = http.createServer((_req, res) => res.writeHead(301, { location: `http://127.0.0.1:${openPort}/x.csv` }).end());
      await new Promise<void>((r) => hop.listen(0, '127.0.0.3', r));
      disposables.defer(() => new Promise((r) => hop.close(r)));
      const hopUrl = `http://127.0.0.3:${(hop.address() as AddressInfo).port}/x.csv`;
      for (const url of [`http://127.0.0.1:${openPort}/x.csv`, 'http://127.0.0.1:1/x.csv', hopUrl]) {
        const err = await read(url, { allowedNetworks: strict.allowedNetworks });
        expect(err).toMatchObject({ kind: 'PERMANENT', message: expect.stringContaining('address not allowed') });
      }
      const { rows } = await pool.query("select to_regclass('public.fetched') as t");
      expect(rows[0].t).toBeNull();
    });
  });
});
