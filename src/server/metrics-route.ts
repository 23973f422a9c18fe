import type { RequestHandler } from 'express';
import type { Registry } from 'prom-client';
import { coerceError } from '../errors';
import type { Logger } from '../logger';

/**
 * `GET /metrics`: the registry in Prometheus's text exposition format. Scrape-time gauges read what
 * they need (cached, src/metrics/scrape-gauges.ts); a failure to collect answers 500 and is logged.
 * Who may scrape is decided in front of it (src/server/http.ts).
 */
export function metricsHandler(registry: Registry, logger: Logger): RequestHandler {
  return (_req, res) => {
    registry.metrics().then(
      (body) => {
        res.setHeader('content-type', registry.contentType);
        res.setHeader('cache-control', 'no-store');
        res.send(body);
      },
      (err: unknown) => {
        const e = coerceError(err);
        logger.error({ err: e, component: 'metrics' }, `metrics could not be collected: ${e.message}`);
        res.status(500).type('text/plain').send('metrics could not be collected\n');
      },
    );
  };
}
