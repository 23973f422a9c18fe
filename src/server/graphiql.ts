import fs from 'node:fs';
import path from 'node:path';
import express, { type Router } from 'express';
import { packageRoot } from '../paths';

/** Hashed file names (esbuild `[name]-[hash]`) never change content, so browsers may keep them. */
const HASHED_ASSET = /-[A-Z0-9]{8}\.[a-z0-9]+$/;

/** `<project>/dist/graphiql`. */
const defaultAssetsDir = () => path.join(packageRoot(), 'dist', 'graphiql');

const escapeAttr = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Serves the self-hosted GraphiQL bundle (built by `node scripts/build-graphiql.js` into
 * `dist/graphiql/`) at the router's root: mounted with `app.use('/graphiql', graphiqlRouter())`,
 * both `/graphiql` and `/graphiql/` return the page and `/graphiql/<file>` the assets. The page
 * needs nothing from the network but this server: it runs queries and mutations over HTTP POST
 * `/graphql` and subscriptions over a graphql-ws WebSocket at `ws(s)://<same host>/graphql`.
 *
 * While the bundle is missing every request gets a 503 telling the operator to build it; the
 * check is made per request, so building while the server runs is enough.
 *
 * @param options.assetsDir - Directory holding the built `index.html` and assets. Defaults to
 *   `dist/graphiql` under the project root (found by walking up to `package.json`).
 * @returns An Express router to mount at the GraphiQL path.
 */
export function graphiqlRouter(options: { assetsDir?: string } = {}): Router {
  const assetsDir = path.resolve(options.assetsDir ?? defaultAssetsDir());
  const indexFile = path.join(assetsDir, 'index.html');
  const router = express.Router();

  router.use((_req, res, next) => {
    if (fs.existsSync(indexFile)) return next();
    res
      .status(503)
      .type('text/plain')
      .send(
        `GraphiQL is not built: ${indexFile} is missing.\n` + 'Run `npm run build` (or `node scripts/build-graphiql.js`) and reload.\n',
      );
  });

  router.get('/', async (req, res, next) => {
    try {
      let html = await fs.promises.readFile(indexFile, 'utf8');
      // index.html uses relative asset URLs. Without a trailing slash (`/graphiql`) the browser
      // would resolve them against the parent path, so point <base> back into the mount. The
      // base is relative too, so the page also works behind a proxy that adds a path prefix.
      const pathname = req.originalUrl.split('?')[0];
      if (!pathname.endsWith('/')) {
        const last = pathname.slice(pathname.lastIndexOf('/') + 1);
        html = html.replace(/<head>/i, `$&<base href="./${escapeAttr(last)}/">`);
      }
      res.set('Cache-Control', 'no-cache').type('html').send(html);
    } catch (err) {
      next(err);
    }
  });

  router.use(
    express.static(assetsDir, {
      index: false,
      redirect: false,
      setHeaders(res, file) {
        res.setHeader('Cache-Control', HASHED_ASSET.test(file) ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    }),
  );
  return router;
}
