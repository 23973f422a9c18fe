import crypto from 'node:crypto';
import type { JobsApi, RunsApi } from '../api';
import type { JobView, RunView } from '../domain';
import type { Logger } from '../logger';
import { BatchLoader } from './batch-loader';
import type { LiveService } from '../live/live.service';

/** Per-request loaders: batch the N+1 lookups of list resolvers. */
export interface Loaders {
  /** `Run.job`: one `jobs.getMany` per tick. */
  job: BatchLoader<string, JobView | null>;
  /** `Job.latestRun`: one `runs.getMany` per tick. */
  run: BatchLoader<string, RunView | null>;
}

/** What every resolver receives. One per HTTP request, one per WebSocket operation. */
export interface GraphQLContext {
  jobs: JobsApi;
  runs: RunsApi;
  /** The live streams (subscriptions). */
  live: LiveService;
  /** A child logger bound to `requestId`. */
  logger: Logger;
  requestId: string;
  loaders: Loaders;
}

export interface ContextDeps {
  jobs: JobsApi;
  runs: RunsApi;
  live: LiveService;
  logger: Logger;
}

export interface ContextRequest {
  /** The caller's id (x-request-id) or a fresh uuid when absent. */
  requestId?: string;
  /** `http`: loaders cache for the request; `ws`: they only batch (a subscription lives long). */
  transport: 'http' | 'ws';
}

export type ContextFactory = (req: ContextRequest) => GraphQLContext;

/** A request id: the caller's when it looks sane (printable, ≤ 128 chars), otherwise a new uuid. */
export function requestIdFrom(header: unknown): string {
  const v = Array.isArray(header) ? header[0] : header;
  return typeof v === 'string' && /^[\w.:\-/]{1,128}$/.test(v) ? v : crypto.randomUUID();
}

/**
 * Builds the context factory once per process; the HTTP server calls it per request and the
 * WebSocket server per operation.
 */
export function makeContextFactory(deps: ContextDeps): ContextFactory {
  return (req: ContextRequest): GraphQLContext => {
    const requestId = req.requestId ?? crypto.randomUUID();
    return {
      jobs: deps.jobs,
      runs: deps.runs,
      live: deps.live,
      logger: deps.logger.child({ requestId }),
      requestId,
      loaders: {
        job: new BatchLoader((ids) => deps.jobs.getMany(ids), { cache: req.transport === 'http' }),
        run: new BatchLoader((ids) => deps.runs.getMany(ids), { cache: req.transport === 'http' }),
      },
    };
  };
}
