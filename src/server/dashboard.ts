import fs from 'node:fs';
import path from 'node:path';
import express, { type RequestHandler, type Router } from 'express';
import { packageRoot } from '../paths';

/** Hashed file names (esbuild `[name]-[hash]`) never change content, so browsers may keep them. */
const HASHED_ASSET = /-[A-Z0-9]{8}\.[a-z0-9]+$/;

/** `<project>/dist/dashboard`. */
const defaultAssetsDir = () => path.join(packageRoot(), 'dist', 'dashboard');

/**
 * Serves the live dashboard (built by `node scripts/build-dashboard.js` into `dist/dashboard/`)
 * at the server's root: `GET /` (and `/index.html`) returns the page, `/<file>` its assets. The
 * page routes with the URL's hash (`#/jobs`, `#/runs/<id>`), so no other path belongs to it: a
 * request for anything else falls through to the routes mounted after it (`/metrics`, the 404).
 * Like GraphiQL it needs nothing from the network but this server: queries and mutations over
 * HTTP POST `/graphql`, subscriptions over one graphql-ws WebSocket on the same path.
 *
 * While the bundle is missing, `GET /` answers 503 telling the operator to build it (checked per
 * request, so building while the server runs is enough). Hashed assets are cacheable for a year;
 * the page itself is `no-cache`, so a new build is picked up on reload.
 *
 * @param options.assetsDir - Directory holding the built `index.html` and assets. Defaults to
 *   `dist/dashboard` under the project root.
 * @returns An Express router to mount at `/`, after the API's own routes.
 */
export function dashboardRouter(options: { assetsDir?: string } = {}): Router {
  const assetsDir = path.resolve(options.assetsDir ?? defaultAssetsDir());
  const indexFile = path.join(assetsDir, 'index.html');
  const router = express.Router();

  const page: RequestHandler = async (_req, res, next) => {
    try {
      const html = await fs.promises.readFile(indexFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null;
        throw err;
      });
      if (html === null) {
        res
          .status(503)
          .type('text/plain')
          .set('Cache-Control', 'no-cache')
          .send(
            `The dashboard is not built: ${indexFile} is missing.\n` +
              'Run `npm run build` (or `node scripts/build-dashboard.js`) and reload. The API is at /graphql, GraphiQL at /graphiql.\n',
          );
        return;
      }
      res.set('Cache-Control', 'no-cache').type('html').send(html);
    } catch (err) {
      next(err);
    }
  };
  router.get(['/', '/index.html'], page);
  router.use(
    express.static(assetsDir, {
      index: false,
      redirect: false,
      fallthrough: true,
      setHeaders(res, file) {
        res.setHeader('Cache-Control', HASHED_ASSET.test(file) ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    }),
  );
  return router;
}
