/**
 * The self-hosted GraphiQL: the built page and everything it pulls in are served locally by
 * graphiqlRouter(), and nothing in it loads from another host (the page must work offline).
 *
 * Uses dist/graphiql as is when it exists; otherwise builds it once (a few seconds).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

import express from 'express';

import { graphiqlRouter } from '../../src/server/graphiql';

const ROOT = path.resolve(__dirname, '../..');
const INDEX_HTML = path.join(ROOT, 'dist', 'graphiql', 'index.html');
const WORKERS = ['editor.worker.js', 'json.worker.js', 'graphql.worker.js'];

/**
 * Hosts that appear in bundled library code only as documentation links, `<a target=_blank>`
 * hrefs, XML namespaces or JSON-schema ids: strings, never fetched. A new host here after a
 * dependency upgrade means someone has to look at what it is used for before allowing it.
 */
const NON_FETCHED_HOSTS = new Set([
  'www.w3.org',
  'json-schema.org',
  'github.com',
  'code.visualstudio.com',
  'microsoft.com',
  'react.dev',
  'prettier.io',
  'yarnpkg.com',
  'en.wikipedia.org',
  'commonmark.org',
]);
const CDN_HOSTS = /\b(esm\.sh|unpkg\.com|jsdelivr\.net|cdnjs\.cloudflare\.com|fonts\.(googleapis|gstatic)\.com|skypack\.dev)\b/;
/** import / import() / importScripts / Worker / fetch of an absolute or protocol-relative URL. */
const REMOTE_LOAD = /(?:\bimport\s*\(|\bfrom|\bimportScripts\s*\(|\bnew\s+Worker\s*\(|\bfetch\s*\()\s*["'`]\s*(?:https?:)?\/\//;

interface Served {
  url: string;
  status: number;
  type: string;
  body: string;
}

function listen(app: express.Express): Promise<{ server: Server; base: string }> {
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => {
      resolve({ server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
    });
  });
}

async function get(url: string): Promise<Served> {
  const res = await fetch(url);
  return { url, status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

function close(server: Server | undefined): Promise<void> {
  if (!server) return Promise.resolve();
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('GraphiQL (self-hosted)', () => {
  let server: Server;
  let base: string;
  let page: Served;
  /** Every file reachable from the page: HTML, CSS, JS entry, lazy chunks, workers, fonts. */
  const crawled = new Map<string, Served>();

  beforeAll(async () => {
    if (!fs.existsSync(INDEX_HTML)) {
      execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-graphiql.js')], {
        cwd: ROOT,
        stdio: 'pipe',
        timeout: 120_000,
      });
    }
    const app = express();
    app.use('/graphiql', graphiqlRouter());
    ({ server, base } = await listen(app));

    page = await get(`${base}/graphiql`);
    // Resolve like a browser: against <base href> when the server injected one.
    const baseHref = /<base\s+href="([^"]+)"/i.exec(page.body)?.[1];
    const docBase = new URL(baseHref ?? '', page.url).href;
    const queue = [...page.body.matchAll(/<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"/gi)]
      .map((m) => m[1])
      .filter((ref) => !ref.startsWith('data:'))
      .map((ref) => new URL(ref, docBase).href);
    queue.push(...WORKERS.map((w) => new URL(w, docBase).href)); // named at runtime in monaco-workers.ts

    while (queue.length) {
      const url = queue.shift()!;
      if (crawled.has(url) || !url.startsWith(base)) continue;
      const served = await get(url);
      crawled.set(url, served);
      const refs = url.endsWith('.css')
        ? [...served.body.matchAll(/url\(\s*["']?([^"')]+)["']?\s*\)/g)].map((m) => m[1])
        : url.endsWith('.js')
          ? [...served.body.matchAll(/(?:\bfrom|\bimport\s*\(?)\s*["'](\.\/[\w.-]+\.js)["']/g)].map((m) => m[1]) // esbuild chunk refs
          : [];
      for (const ref of refs) if (!ref.startsWith('data:')) queue.push(new URL(ref, url).href);
    }
  }, 180_000);

  afterAll(() => close(server));

  it('serves the page at /graphiql and /graphiql/', async () => {
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/^text\/html/);
    expect(page.body).toContain('<div id="graphiql">');
    expect(page.body).toMatch(/<head><base href="\.\/graphiql\/">/); // relative assets must land under the mount

    const slash = await get(`${base}/graphiql/`);
    expect(slash.status).toBe(200);
    expect(slash.type).toMatch(/^text\/html/);
    expect(slash.body).not.toMatch(/<base\s/);
  });

  it('serves every referenced script, stylesheet, chunk, worker and font locally', () => {
    const files = [...crawled.values()];
    expect(files.some((f) => f.url.endsWith('/graphiql/index.js'))).toBe(true);
    expect(files.some((f) => f.url.endsWith('/graphiql/index.css'))).toBe(true);
    expect(files.filter((f) => /\/chunk-[A-Z0-9]+\.js$/.test(f.url)).length).toBeGreaterThan(0);
    for (const f of files) {
      expect({ url: f.url, status: f.status }).toEqual({ url: f.url, status: 200 });
      expect(f.body.length).toBeGreaterThan(0);
      if (f.url.endsWith('.js')) expect(f.type).toMatch(/javascript/);
      if (f.url.endsWith('.css')) expect(f.type).toMatch(/^text\/css/);
    }
  });

  it('loads nothing from other hosts', () => {
    expect(page.body).not.toMatch(/https?:\/\//);
    expect(page.body).not.toMatch(/\b(?:src|href)="\/\//);

    const offenders: string[] = [];
    for (const f of crawled.values()) {
      if (!/\.(js|css)$/.test(f.url)) continue;
      const name = f.url.slice(f.url.lastIndexOf('/') + 1);
      if (CDN_HOSTS.test(f.body)) offenders.push(`${name}: mentions a CDN (${CDN_HOSTS.exec(f.body)![0]})`);
      if (REMOTE_LOAD.test(f.body)) offenders.push(`${name}: loads a remote URL (${REMOTE_LOAD.exec(f.body)![0]})`);
      if (f.url.endsWith('.css')) {
        for (const [, ref] of f.body.matchAll(/(?:url\(|@import)\s*["']?([^"')\s;]+)/g)) {
          if (/^(?:[a-z]+:)?\/\//i.test(ref)) offenders.push(`${name}: CSS references ${ref}`);
        }
      }
      for (const [, host] of f.body.matchAll(/https?:\/\/([a-z0-9-]+(?:\.[a-z0-9-]+)+)/gi)) {
        if (!NON_FETCHED_HOSTS.has(host.toLowerCase())) offenders.push(`${name}: unexpected host ${host}`);
      }
    }
    expect([...new Set(offenders)]).toEqual([]);
  });

  it('answers 503 with build instructions while the bundle is missing', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-graphiql-'));
    const app = express();
    app.use('/graphiql', graphiqlRouter({ assetsDir: empty }));
    const { server: bare, base: bareBase } = await listen(app);
    try {
      for (const p of ['/graphiql', '/graphiql/index.js']) {
        const res = await get(`${bareBase}${p}`);
        expect(res.status).toBe(503);
        expect(res.type).toMatch(/^text\/plain/);
        expect(res.body).toContain('npm run build');
      }
    } finally {
      await close(bare);
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});
