/**
 * How the gateway serves the dashboard bundle (src/server/dashboard.ts): a 503 that says what to
 * do while it is unbuilt, the page uncached and its hashed assets cacheable, nothing fetched from
 * another host, and every other path left to the routes after it.
 */
import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { dashboardRouter } from '../../src/server/dashboard';
import { builtEntry } from '../helpers/build';

const CDN_HOSTS = /\b(esm\.sh|unpkg\.com|jsdelivr\.net|cdnjs\.cloudflare\.com|fonts\.(googleapis|gstatic)\.com|skypack\.dev)\b/;
/** import / import() / importScripts / Worker / fetch of an absolute or protocol-relative URL. */
const REMOTE_LOAD = /(?:\bimport\s*\(|\bfrom|\bimportScripts\s*\(|\bnew\s+Worker\s*\(|\bfetch\s*\()\s*["'`]\s*(?:https?:)?\/\//;

const servers: Server[] = [];
afterAll(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));

async function serve(assetsDir?: string): Promise<string> {
  const app = express();
  app.use(dashboardRouter({ assetsDir }));
  app.get('/after', (_req, res) => void res.send('a route mounted after the dashboard'));
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

it('answers 503 saying how to build it while the bundle is missing, and leaves other paths alone', async () => {
  const base = await serve(fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-no-dashboard-')));
  const res = await fetch(`${base}/`);
  expect(res.status).toBe(503);
  expect(await res.text()).toMatch(/npm run build/);
  expect((await fetch(`${base}/after`)).status).toBe(200);
  expect((await fetch(`${base}/nothing-here`)).status).toBe(404);
});

it('serves the built page uncached and its hashed assets for a year, all from this server', async () => {
  builtEntry('dist/dashboard/index.html', ['web/dashboard', 'client']);
  const base = await serve();
  const page = await fetch(`${base}/`);
  expect(page.status).toBe(200);
  expect(page.headers.get('cache-control')).toBe('no-cache');
  const html = await page.text();
  const assets = [...html.matchAll(/(?:src|href)="\.\/([^"]+)"/g)].map((m) => m[1]);
  expect(assets).toEqual(
    expect.arrayContaining([expect.stringMatching(/^index-[A-Z0-9]{8}\.js$/), expect.stringMatching(/^index-[A-Z0-9]{8}\.css$/)]),
  );
  for (const asset of assets) {
    const res = await fetch(`${base}/${asset}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const body = await res.text();
    expect(body).not.toMatch(CDN_HOSTS);
    expect(body).not.toMatch(REMOTE_LOAD);
  }
  expect(html).not.toMatch(/https?:\/\//);
});
